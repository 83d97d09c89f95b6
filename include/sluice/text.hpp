// Python's str.split for the lines of a text stream, so that `line.split()` and `line.split(" ")`
// translate word for word:
//   lines.flatMap(lambda line: line.split())     lines.flatMap([](const std::string& line) {
//                                                  return sluice::split(line); })
// Lines are UTF-8, as Sluice reads them. Stateless; safe from any thread.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace sluice {

// Python's line.split(): the words between runs of whitespace, never an empty string ("" and
// "  " give no words). Whitespace is what Python's str.isspace() accepts, the Unicode spaces
// included: \t \n \v \f \r, \x1c-\x1f, space, U+0085, U+00A0, U+1680, U+2000-U+200A, U+2028,
// U+2029, U+202F, U+205F and U+3000. A byte that is not valid UTF-8 is not whitespace.
std::vector<std::string> split(std::string_view line);

// Python's line.split(sep): the pieces between the occurrences of `sep`, empty ones kept
// ("a  b".split(" ") is ['a', '', 'b'], "".split(" ") is ['']). Throws InvalidArgumentError
// ("empty separator", Python's ValueError) when `sep` is empty.
std::vector<std::string> split(std::string_view line, std::string_view sep);

}  // namespace sluice
