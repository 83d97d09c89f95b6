// The in-process ShuffleService: map outputs stay in memory and reducers receive them by pointer.
#pragma once

#include <absl/container/flat_hash_map.h>

#include <mutex>
#include <sluice/rdd/runtime.hpp>
#include <vector>

namespace sluice::detail {

class LocalShuffleService final : public ShuffleService {
 public:
  void registerShuffle(int shuffle_id, int num_maps, int num_reduces) override;
  void unregisterShuffle(int shuffle_id) override;
  void putMapOutput(int shuffle_id, int map_id, std::vector<ShuffleBlock> buckets) override;
  bool isComplete(int shuffle_id) const override;
  std::vector<ShuffleBlock> fetch(int shuffle_id, int reduce_id) const override;

 private:
  struct Shuffle {
    int num_reduces = 0;
    int present = 0;
    std::vector<std::vector<ShuffleBlock>> outputs;  // [map][reduce]; empty until stored
  };
  const Shuffle& find(int shuffle_id) const;

  mutable std::mutex mu_;
  absl::flat_hash_map<int, Shuffle> shuffles_;
};

}  // namespace sluice::detail
