#include <fmt/format.h>

#include <ctime>
#include <sluice/streaming/output.hpp>

namespace sluice::detail {

std::string pythonLocalTime(Time t) {
  const std::int64_t ms = t.milliseconds();
  std::int64_t seconds = ms / 1000;
  std::int64_t millis = ms % 1000;
  if (millis < 0) {
    millis += 1000;
    --seconds;
  }
  std::time_t tt = static_cast<std::time_t>(seconds);
  std::tm local{};
  localtime_r(&tt, &local);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S", &local);
  std::string out(buf);
  if (millis != 0) out += fmt::format(".{:06d}", millis * 1000);
  return out;
}

void printBatch(const std::string& time_line, const std::vector<std::string>& lines, bool more) {
  static const std::string kDashes(43, '-');
  std::string text;
  text.append(kDashes).append("\n").append(time_line).append("\n").append(kDashes).append("\n");
  for (const auto& line : lines) text.append(line).append("\n");
  if (more) text.append("...\n");
  text.append("\n");
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fflush(stdout);
}

}  // namespace sluice::detail
