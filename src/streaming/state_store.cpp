#include <fmt/format.h>

#include <mutex>
#include <sluice/error.hpp>
#include <sluice/streaming/state_store.hpp>
#include <utility>

namespace sluice::detail {

struct StateVersionBase::Slot {
  std::mutex mu;
  bool done = false;
};

StateVersionBase::StateVersionBase(Time time, std::optional<Time> base, int partitions,
                                   bool detached)
    : time_(time),
      base_(base),
      partitions_(partitions),
      detached_(detached),
      slots_(std::make_unique<Slot[]>(static_cast<std::size_t>(partitions))) {}

StateVersionBase::~StateVersionBase() = default;

void StateVersionBase::computeOnce(int p, const TaskContext& tc,
                                   const std::function<void()>& compute) {
  Slot& slot = slots_[static_cast<std::size_t>(p)];
  std::lock_guard lock(slot.mu);
  if (slot.done) return;
  compute();
  if (tc.isCancelled()) return;
  slot.done = true;
  done_.fetch_add(1, std::memory_order_acq_rel);
}

bool StateVersionBase::complete() const noexcept {
  return done_.load(std::memory_order_acquire) == partitions_;
}

StateStoreBase::StateStoreBase(std::string kind, int partitions)
    : kind_(std::move(kind)), partitions_(partitions) {}

StateStoreBase::~StateStoreBase() = default;

void StateStoreBase::addPending(std::shared_ptr<StateVersionBase> version) {
  if (!version->detached()) pending_.push_back(std::move(version));
}

bool StateStoreBase::finishBatch() {
  std::shared_ptr<StateVersionBase> newest;
  for (auto& version : pending_) {
    if (version->complete() && version->base() == committed_ &&
        (!newest || version->time() > newest->time())) {
      newest = version;
    }
  }
  pending_.clear();
  const std::optional<Time> empty_at = std::exchange(empty_at_, std::nullopt);
  if (!newest) {
    if (committed_ || !empty_at) return false;
    committed_ = empty_at;
    return true;
  }
  commit(*newest);
  committed_ = newest->time();
  starts_empty_ = false;
  return true;
}

namespace {
// Saved bytes of a backend start with this; in-memory saves start with cereal's endianness byte.
constexpr std::string_view kBackendTag = "rocksdb:";
}  // namespace

std::string StateStoreBase::saveBackend(const StateSaveTarget& target) {
  return std::string(kBackendTag) + backend_->checkpoint(target.dir, target.time);
}

void StateStoreBase::restoreBackendWith(std::string_view bytes, const std::string& dir,
                                        const std::function<int(std::string_view)>& partition_of) {
  if (!bytes.starts_with(kBackendTag)) {
    throw CheckpointError(fmt::format(
        "The checkpointed state of {} was saved in memory, and sluice.streaming.stateBackend "
        "now selects rocksdb: restore it with the memory backend",
        kind_));
  }
  backend_->restore(dir, std::string(bytes.substr(kBackendTag.size())));
  if (backend_->savedPartitions() != partitions_) backend_->repartition(partitions_, partition_of);
}

void StateStoreBase::checkInMemoryFormat(std::string_view bytes) const {
  if (bytes.starts_with(kBackendTag)) {
    throw CheckpointError(
        fmt::format("The checkpointed state of {} was saved by the rocksdb state backend: set "
                    "sluice.streaming.stateBackend to rocksdb to restore it",
                    kind_));
  }
}

void StateStoreBase::checkReadable(const StateVersionBase& version) const {
  if (version.detached() || version.base() == committed_) return;
  throw IllegalStateError(fmt::format(
      "The state of {} at {} is no longer available: it was computed from the state at {}, "
      "and the state has since moved to {}",
      kind_, version.time().toString(),
      version.base() ? version.base()->toString() : std::string("the start"),
      committed_ ? committed_->toString() : std::string("the start")));
}

}  // namespace sluice::detail
