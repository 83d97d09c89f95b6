#pragma once

#include <string>
#include <utility>
#include <vector>

namespace sluice::bench {

// Counts the words of the file at `path` with a single-threaded, hand-tuned loop: the baseline
// the Sluice word count is measured against. A word is a maximal run of bytes > ' ' (unsigned),
// with A-Z lowercased and every other byte kept as is. The result is in no particular order.
// Throws std::system_error if the file cannot be opened or mapped.
std::vector<std::pair<std::string, long long>> handwrittenWordCount(const std::string& path);

}  // namespace sluice::bench
