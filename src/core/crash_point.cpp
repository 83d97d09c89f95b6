#include "core/crash_point.hpp"

#include <atomic>
#include <csignal>
#include <cstdlib>
#include <string>

namespace sluice::detail {
namespace {

struct CrashSpec {
  std::string name;
  long remaining = 0;
};

CrashSpec* parseSpec() {
  const char* env = std::getenv("SLUICE_CRASH_AT");
  if (env == nullptr) return nullptr;
  const std::string spec(env);
  const auto colon = spec.rfind(':');
  auto* parsed = new CrashSpec{spec.substr(0, colon), 1};  // lives for the process
  if (colon != std::string::npos)
    parsed->remaining = std::strtol(spec.c_str() + colon + 1, nullptr, 10);
  return parsed;
}

}  // namespace

void crashPoint(std::string_view name) {
  static CrashSpec* const spec = parseSpec();
  if (spec == nullptr || name != spec->name) return;
  static std::atomic<long> hits{0};
  if (hits.fetch_add(1) + 1 >= spec->remaining) std::raise(SIGKILL);
}

}  // namespace sluice::detail
