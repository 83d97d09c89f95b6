#include <absl/container/flat_hash_set.h>

#include <numeric>
#include <sluice/rdd/node.hpp>

namespace sluice::detail {
namespace {

void materialize(ShuffleDependencyBase& dep);

void visit(NodeBase& node, absl::flat_hash_set<int>& visited) {
  if (!visited.insert(node.id()).second || node.fullyCached()) return;
  node.visitDependencies(DependencyVisitor{
      [&](NodeBase& parent) { visit(parent, visited); },
      [](ShuffleDependencyBase& dep) { materialize(dep); },
  });
}

void materialize(ShuffleDependencyBase& dep) {
  if (dep.isComplete()) return;
  std::lock_guard lock(dep.materializeMutex());
  if (dep.isComplete()) return;
  materializeShuffles(dep.mapSide());
  auto partitions = allPartitions(dep.numMaps());
  dep.mapSide().runtime().runStage("shuffle map", partitions,
                                   [&](TaskContext& tc, int) { dep.runMapTask(tc, tc.partition); });
}

}  // namespace

void materializeShuffles(NodeBase& node) {
  absl::flat_hash_set<int> visited;
  visit(node, visited);
}

std::vector<int> allPartitions(int num_partitions) {
  std::vector<int> parts(static_cast<std::size_t>(num_partitions));
  std::iota(parts.begin(), parts.end(), 0);
  return parts;
}

}  // namespace sluice::detail
