#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <filesystem>
#include <sluice/error.hpp>
#include <sluice/log.hpp>
#include <sluice/streaming/streaming_context.hpp>

namespace sluice {
namespace {

std::atomic<detail::StreamingCore*> g_signal_target{nullptr};
std::atomic<bool> g_signal_thread_started{false};
int g_signal_pipe[2] = {-1, -1};

void onShutdownSignal(int) {
  char byte = 1;
  [[maybe_unused]] auto n = ::write(g_signal_pipe[1], &byte, 1);  // async-signal-safe
}

}  // namespace

StreamingContext::StreamingContext(Context& context, Duration batch_duration,
                                   std::shared_ptr<Clock> clock)
    : core_(std::make_shared<detail::StreamingCore>(context, batch_duration, std::move(clock))) {}

StreamingContext::~StreamingContext() {
  detail::StreamingCore* self = core_.get();
  g_signal_target.compare_exchange_strong(self, nullptr);
  try {
    if (core_->state() == StreamingContextState::kActive) core_->stop(false);
  } catch (const std::exception& e) {
    detail::log(LogLevel::kError, std::string("Error stopping StreamingContext: ") + e.what());
  }
  core_->clearGraph();
}

void StreamingContext::start() {
  // Spark installs its graceful-stop hook when the setting is on, without a call.
  if (core_->conf().stop_gracefully_on_shutdown) stopGracefullyOnShutdown();
  core_->start();
}

void StreamingContext::stop(bool stop_spark_context, bool stop_gracefully) {
  core_->stop(stop_gracefully);
  if (stop_spark_context) sparkContext().stop();
}

void StreamingContext::awaitTermination() { core_->awaitTermination(); }

bool StreamingContext::awaitTerminationOrTimeout(Duration timeout) {
  return core_->awaitTerminationOrTimeout(timeout);
}

void StreamingContext::checkpoint(const std::string& directory) {
  std::error_code ec;
  std::filesystem::create_directories(directory, ec);
  if (ec) throw IOError("Cannot create checkpoint directory '" + directory + "': " + ec.message());
  core_->setCheckpointDir(directory);
}

std::unique_ptr<StreamingContext> StreamingContext::getOrCreate(
    const std::string& checkpoint_dir,
    const std::function<std::unique_ptr<StreamingContext>()>& setup, bool create_on_error) {
  if (!setup) throw InvalidArgumentError("getOrCreate: the setup function must not be empty");
  auto create = [&] {
    auto ssc = setup();
    if (!ssc) throw InvalidArgumentError("getOrCreate: the setup function returned no context");
    if (ssc->checkpointDirectory() != checkpoint_dir) ssc->checkpoint(checkpoint_dir);
    return ssc;
  };
  auto ssc = create();
  try {
    ssc->core_->restoreFromCheckpoint();
  } catch (const CheckpointError& e) {
    if (!create_on_error) throw;
    detail::log(LogLevel::kWarn,
                std::string("Cannot recover from the checkpoint; starting fresh: ") + e.what());
    ssc.reset();
    ssc = create();
  }
  return ssc;
}

void StreamingContext::remember(Duration duration) { core_->setRemember(duration); }

void StreamingContext::addStreamingListener(std::shared_ptr<StreamingListener> listener) {
  core_->addListener(std::move(listener));
}

void StreamingContext::removeStreamingListener(const std::shared_ptr<StreamingListener>& listener) {
  core_->removeListener(listener);
}

void StreamingContext::stopGracefullyOnShutdown() {
  core_->conf().stop_gracefully_on_shutdown = true;
  g_signal_target.store(core_.get());
  if (g_signal_thread_started.exchange(true)) return;
  // The handler only writes to a pipe; a watcher thread blocked on it does the stop, outside
  // signal context.
  if (::pipe(g_signal_pipe) != 0) {
    g_signal_thread_started = false;
    throw IOError("Cannot install the shutdown handler: pipe() failed");
  }
  std::signal(SIGINT, onShutdownSignal);
  std::signal(SIGTERM, onShutdownSignal);
  std::thread([] {
    char byte = 0;
    while (::read(g_signal_pipe[0], &byte, 1) < 0 && errno == EINTR) {
    }
    if (auto* core = g_signal_target.load()) {
      detail::log(LogLevel::kWarn, "Signal received: stopping the StreamingContext gracefully");
      core->stop(true);
    }
  }).detach();
}

}  // namespace sluice
