#include "core/progress_bar.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>
#include <string>

namespace sluice::detail {
namespace {
constexpr auto kFirstDelay = std::chrono::milliseconds(500);
constexpr auto kRefresh = std::chrono::milliseconds(200);
constexpr int kWidth = 80;
}  // namespace

std::unique_ptr<ConsoleProgressBar> ConsoleProgressBar::createIfTerminal() {
  if (isatty(STDERR_FILENO) == 0) return nullptr;
  return std::unique_ptr<ConsoleProgressBar>(new ConsoleProgressBar());
}

ConsoleProgressBar::ConsoleProgressBar() : thread_([this] { run(); }) {}

ConsoleProgressBar::~ConsoleProgressBar() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void ConsoleProgressBar::add(const std::shared_ptr<StageStatus>& stage) {
  std::lock_guard lock(mu_);
  stages_[stage->stage_id] = stage;
}

void ConsoleProgressBar::remove(int stage_id) {
  std::lock_guard lock(mu_);
  stages_.erase(stage_id);
  if (stages_.empty() && drawn_) {
    std::fprintf(stderr, "\r%*s\r", kWidth, "");
    drawn_ = false;
  }
}

void ConsoleProgressBar::run() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    cv_.wait_for(lock, kRefresh);
    if (!stopping_) draw();
  }
}

void ConsoleProgressBar::draw() {
  auto now = std::chrono::steady_clock::now();
  std::string line;
  int shown = 0;
  for (const auto& [id, stage] : stages_) {
    if (now - stage->started < kFirstDelay || shown == 3) continue;
    ++shown;
    int done = stage->completed.load();
    std::string header = fmt::format("[Stage {}:", id);
    std::string tailer = fmt::format("({} + {}) / {}]", done, stage->running.load(), stage->total);
    int width =
        kWidth / (static_cast<int>(stages_.size()) > 3 ? 3 : static_cast<int>(stages_.size())) -
        static_cast<int>(header.size() + tailer.size());
    std::string bar;
    if (width > 0) {
      int filled = stage->total > 0 ? width * done / stage->total : 0;
      bar.assign(static_cast<std::size_t>(filled), '=');
      if (filled < width) bar.push_back('>');
      bar.resize(static_cast<std::size_t>(width), ' ');
    }
    line += header + bar + tailer;
  }
  if (shown == 0) return;
  std::fprintf(stderr, "\r%s", line.c_str());
  std::fflush(stderr);
  drawn_ = true;
}

}  // namespace sluice::detail
