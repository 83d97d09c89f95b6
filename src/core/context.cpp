#include <charconv>
#include <sluice/context.hpp>
#include <sluice/error.hpp>
#include <sluice/log.hpp>
#include <thread>

#include "core/local_runtime.hpp"

namespace sluice {
namespace {

int parseMaster(const std::string& master) {
  auto invalid = [&] {
    return InvalidArgumentError("Could not parse Master URL: '" + master +
                                "' (expected local, local[N] or local[*])");
  };
  if (master == "local") return 1;
  constexpr std::string_view kPrefix = "local[";
  if (!master.starts_with(kPrefix) || !master.ends_with(']')) throw invalid();
  std::string_view inner(master.data() + kPrefix.size(), master.size() - kPrefix.size() - 1);
  if (inner == "*") return static_cast<int>(std::max(1U, std::thread::hardware_concurrency()));
  int n = 0;
  auto [ptr, ec] = std::from_chars(inner.data(), inner.data() + inner.size(), n);
  if (ec != std::errc() || ptr != inner.data() + inner.size()) throw invalid();
  if (n <= 0) {
    throw InvalidArgumentError("Asked to run locally with " + std::to_string(n) +
                               " threads; the thread count must be positive");
  }
  return n;
}

}  // namespace

Context::Context(std::string master, std::string app_name)
    : master_(std::move(master)),
      app_name_(std::move(app_name)),
      parallelism_(parseMaster(master_)),
      runtime_(std::make_shared<detail::LocalRuntime>(parallelism_)) {}

Context::~Context() { stop(); }

void Context::setLogLevel(std::string_view level) {
  detail::setLogLevel(detail::parseLogLevel(level));
}

void Context::stop() { static_cast<detail::LocalRuntime&>(*runtime_).stop(); }

bool Context::isStopped() const noexcept { return runtime_->isStopped(); }

}  // namespace sluice
