#include "shuffle/local_shuffle_service.hpp"

#include <sluice/error.hpp>
#include <string>

namespace sluice::detail {

void LocalShuffleService::registerShuffle(int shuffle_id, int num_maps, int num_reduces) {
  std::lock_guard lock(mu_);
  Shuffle& s = shuffles_[shuffle_id];
  s.num_reduces = num_reduces;
  s.outputs.assign(static_cast<std::size_t>(num_maps), {});
}

void LocalShuffleService::unregisterShuffle(int shuffle_id) {
  Shuffle dropped;  // buckets are freed outside the lock
  std::lock_guard lock(mu_);
  auto it = shuffles_.find(shuffle_id);
  if (it == shuffles_.end()) return;
  dropped = std::move(it->second);
  shuffles_.erase(it);
}

void LocalShuffleService::putMapOutput(int shuffle_id, int map_id,
                                       std::vector<ShuffleBlock> buckets) {
  std::vector<ShuffleBlock> replaced;
  std::lock_guard lock(mu_);
  auto it = shuffles_.find(shuffle_id);
  if (it == shuffles_.end())
    throw IllegalStateError("unknown shuffle " + std::to_string(shuffle_id));
  auto& slot = it->second.outputs.at(static_cast<std::size_t>(map_id));
  if (slot.empty()) ++it->second.present;
  replaced = std::exchange(slot, std::move(buckets));
}

const LocalShuffleService::Shuffle& LocalShuffleService::find(int shuffle_id) const {
  auto it = shuffles_.find(shuffle_id);
  if (it == shuffles_.end())
    throw IllegalStateError("unknown shuffle " + std::to_string(shuffle_id));
  return it->second;
}

bool LocalShuffleService::isComplete(int shuffle_id) const {
  std::lock_guard lock(mu_);
  const Shuffle& s = find(shuffle_id);
  return s.present == static_cast<int>(s.outputs.size());
}

std::vector<ShuffleBlock> LocalShuffleService::fetch(int shuffle_id, int reduce_id) const {
  std::lock_guard lock(mu_);
  const Shuffle& s = find(shuffle_id);
  std::vector<ShuffleBlock> blocks;
  blocks.reserve(s.outputs.size());
  for (const auto& map_output : s.outputs) {
    if (map_output.empty()) throw IllegalStateError("shuffle output missing for a map task");
    blocks.push_back(map_output.at(static_cast<std::size_t>(reduce_id)));
  }
  return blocks;
}

}  // namespace sluice::detail
