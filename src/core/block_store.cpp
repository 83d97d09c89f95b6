#include <sluice/rdd/runtime.hpp>

namespace sluice::detail {

std::shared_ptr<const void> BlockStore::get(int rdd_id, int partition) const {
  std::lock_guard lock(mu_);
  auto it = blocks_.find(std::pair(rdd_id, partition));
  return it == blocks_.end() ? nullptr : it->second;
}

void BlockStore::put(int rdd_id, int partition, std::shared_ptr<const void> block) {
  std::lock_guard lock(mu_);
  blocks_[std::pair(rdd_id, partition)] = std::move(block);
}

void BlockStore::evict(int rdd_id, int partition) {
  std::shared_ptr<const void> dropped;  // freed outside the lock
  std::lock_guard lock(mu_);
  auto it = blocks_.find(std::pair(rdd_id, partition));
  if (it != blocks_.end()) {
    dropped = std::move(it->second);
    blocks_.erase(it);
  }
}

void BlockStore::removeRdd(int rdd_id) {
  std::vector<std::shared_ptr<const void>> dropped;
  std::lock_guard lock(mu_);
  for (auto it = blocks_.begin(); it != blocks_.end();) {
    if (it->first.first == rdd_id) {
      dropped.push_back(std::move(it->second));
      blocks_.erase(it++);
    } else {
      ++it;
    }
  }
}

bool BlockStore::containsAll(int rdd_id, int num_partitions) const {
  std::lock_guard lock(mu_);
  for (int p = 0; p < num_partitions; ++p) {
    if (!blocks_.contains(std::pair(rdd_id, p))) return false;
  }
  return true;
}

std::size_t BlockStore::blockCount() const {
  std::lock_guard lock(mu_);
  return blocks_.size();
}

}  // namespace sluice::detail
