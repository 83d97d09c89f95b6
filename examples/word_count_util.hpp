// What the word counts share: PySpark's `lambda word: (word, 1)`. Header-only, like
// example_cli.hpp.
#pragma once

#include <string>
#include <utility>

namespace examples {

// (word, 1): a word with a count of one, for reduceByKey or updateStateByKey to add up.
inline std::pair<std::string, long long> wordAndOne(std::string word) {
  return {std::move(word), 1};
}

}  // namespace examples
