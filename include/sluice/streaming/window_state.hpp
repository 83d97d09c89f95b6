// The state behind the incremental reduceByKeyAndWindow: a persistent array of slots, so that a
// slide changes only the slots of the keys it touches and every window RDD keeps an O(1) snapshot
// of the slots it was produced from.
#pragma once

#include <array>
#include <atomic>
#include <bit>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <utility>

namespace sluice::detail {

// A persistent (copy-on-write) array of optional slots: a radix tree of fan-out 16 over slot
// indices whose nodes are shared between copies. Copying a store or taking a snapshot is O(1). A
// write copies the nodes on its path that something else still shares (use_count() > 1) and
// changes the others in place, so a copy or snapshot never sees later writes. add() fills the
// lowest free slot, found through per-node masks, so freed slots are reused and the slots stay
// dense; nodes left empty are dropped.
// Thread-safety: a store is written by one thread at a time. Snapshots are immutable and may be
// read from any number of threads, also while the store they came from goes on being written.
template <class T>
class PersistentSlots {
  static constexpr int kBits = 4;
  static constexpr std::uint32_t kFanout = 1U << kBits;
  using Mask = std::uint16_t;
  static constexpr Mask kFullMask = static_cast<Mask>(~Mask{0});
  static_assert(sizeof(Mask) * 8 == kFanout);
  // Inner levels above the leaves for which every uint32 slot index is addressable.
  static constexpr int kMaxDepth = 32 / kBits - 1;

  // Leaves and inner nodes are told apart by their level, so they need no common interface.
  struct NodeBase {};
  struct Leaf : NodeBase {
    Mask live = 0;  // bit i: slots[i] holds a value
    std::array<std::optional<T>, kFanout> slots;
  };
  struct Inner : NodeBase {
    Mask present = 0;  // bit i: children[i] is not null (it then holds a live slot)
    Mask full = 0;     // bit i: every slot under children[i] is live
    std::array<std::shared_ptr<NodeBase>, kFanout> children;
  };
  using NodePtr = std::shared_ptr<NodeBase>;

  static std::uint32_t digit(std::uint32_t slot, int level) {
    return (slot >> (kBits * level)) & (kFanout - 1);
  }
  static Mask bit(std::uint32_t i) { return static_cast<Mask>(1U << i); }
  static Leaf& asLeaf(const NodePtr& node) { return *static_cast<Leaf*>(node.get()); }
  static Inner& asInner(const NodePtr& node) { return *static_cast<Inner*>(node.get()); }
  static bool isFull(const NodePtr& node, int level) {
    return level == 0 ? asLeaf(node).live == kFullMask : asInner(node).full == kFullMask;
  }

 public:
  // The slots of a store at one moment; unaffected by later writes to the store.
  class Snapshot {
   public:
    Snapshot() = default;
    std::size_t size() const noexcept { return size_; }
    // Calls f(slot, value) for every live slot in slot order while f returns true.
    template <class F>
    void forEach(F&& f) const {
      if (root_) visit(*root_, depth_, 0, f);
    }

   private:
    friend class PersistentSlots;
    Snapshot(std::shared_ptr<const NodeBase> root, int depth, std::size_t size)
        : root_(std::move(root)), depth_(depth), size_(size) {}

    template <class F>
    static bool visit(const NodeBase& node, int level, std::uint32_t base, F& f) {
      if (level == 0) {
        const auto& leaf = static_cast<const Leaf&>(node);
        for (std::uint32_t i = 0; i < kFanout; ++i) {
          if ((leaf.live & bit(i)) != 0 && !f(base + i, std::as_const(*leaf.slots[i]))) {
            return false;
          }
        }
        return true;
      }
      const auto& inner = static_cast<const Inner&>(node);
      for (std::uint32_t i = 0; i < kFanout; ++i) {
        if ((inner.present & bit(i)) == 0) continue;
        if (!visit(*inner.children[i], level - 1, base + (i << (kBits * level)), f)) return false;
      }
      return true;
    }

    std::shared_ptr<const NodeBase> root_;
    int depth_ = 0;
    std::size_t size_ = 0;
  };

  std::size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }
  Snapshot snapshot() const { return Snapshot(root_, depth_, size_); }

  // Stores `value` in the lowest free slot and returns the slot.
  std::uint32_t add(T value) {
    if (!root_) {
      root_ = std::make_shared<Leaf>();
      depth_ = 0;
    } else if (isFull(root_, depth_)) {
      assert(depth_ < kMaxDepth && "PersistentSlots: more than 2^32 slots");
      auto top = std::make_shared<Inner>();
      top->children[0] = std::move(root_);
      top->present = top->full = bit(0);
      root_ = std::move(top);
      ++depth_;
    }
    makeUnique(root_, depth_);
    std::array<Inner*, kMaxDepth> path{};
    std::array<std::uint32_t, kMaxDepth> digits{};
    std::uint32_t slot = 0;
    NodePtr* node = &root_;
    for (int level = depth_; level > 0; --level) {
      Inner& inner = asInner(*node);
      const auto i = static_cast<std::uint32_t>(std::countr_one(inner.full));
      NodePtr& child = inner.children[i];
      if (!child) {
        child = level == 1 ? NodePtr(std::make_shared<Leaf>()) : NodePtr(std::make_shared<Inner>());
        inner.present |= bit(i);
      } else {
        makeUnique(child, level - 1);
      }
      path[static_cast<std::size_t>(level - 1)] = &inner;
      digits[static_cast<std::size_t>(level - 1)] = i;
      slot = slot << kBits | i;
      node = &child;
    }
    Leaf& leaf = asLeaf(*node);
    const auto i = static_cast<std::uint32_t>(std::countr_one(leaf.live));
    leaf.slots[i].emplace(std::move(value));
    leaf.live |= bit(i);
    slot = slot << kBits | i;
    ++size_;
    // Mark the subtrees that just became full, bottom-up.
    bool full = leaf.live == kFullMask;
    for (int level = 1; level <= depth_ && full; ++level) {
      Inner& inner = *path[static_cast<std::size_t>(level - 1)];
      inner.full |= bit(digits[static_cast<std::size_t>(level - 1)]);
      full = inner.full == kFullMask;
    }
    return slot;
  }

  // The value in live slot `slot`, for reading only: nothing is copied.
  const T& get(std::uint32_t slot) const {
    assert(contains(slot));
    const NodeBase* node = root_.get();
    for (int level = depth_; level > 0; --level) {
      node = static_cast<const Inner*>(node)->children[digit(slot, level)].get();
    }
    return *static_cast<const Leaf*>(node)->slots[digit(slot, 0)];
  }

  bool contains(std::uint32_t slot) const {
    if (!root_ || (depth_ < kMaxDepth && slot >> (kBits * (depth_ + 1)) != 0)) return false;
    const NodeBase* node = root_.get();
    for (int level = depth_; level > 0; --level) {
      const auto& inner = *static_cast<const Inner*>(node);
      if ((inner.present & bit(digit(slot, level))) == 0) return false;
      node = inner.children[digit(slot, level)].get();
    }
    return (static_cast<const Leaf*>(node)->live & bit(digit(slot, 0))) != 0;
  }

  // The value in live slot `slot`, to change in place; first copies the shared nodes on its path.
  T& mutableRef(std::uint32_t slot) {
    assert(contains(slot));
    return *uniqueLeaf(slot, nullptr).slots[digit(slot, 0)];
  }

  // Empties live slot `slot`, which a later add() may reuse.
  void erase(std::uint32_t slot) {
    assert(contains(slot));
    std::array<Inner*, kMaxDepth> path{};
    Leaf& leaf = uniqueLeaf(slot, path.data());
    const std::uint32_t i = digit(slot, 0);
    leaf.slots[i].reset();
    leaf.live &= static_cast<Mask>(~bit(i));
    --size_;
    // No subtree on the path is full any more; drop the nodes left empty.
    bool emptied = leaf.live == 0;
    for (int level = 1; level <= depth_; ++level) {
      Inner& inner = *path[static_cast<std::size_t>(level - 1)];
      const std::uint32_t d = digit(slot, level);
      inner.full &= static_cast<Mask>(~bit(d));
      if (emptied) {
        inner.children[d].reset();
        inner.present &= static_cast<Mask>(~bit(d));
        emptied = inner.present == 0;
      }
    }
    if (emptied) {
      root_.reset();
      depth_ = 0;
    }
  }

 private:
  // Replaces `node` (at `level`) by a private copy when something else shares it.
  static void makeUnique(NodePtr& node, int level) {
    if (node.use_count() == 1) {
      // use_count() is a relaxed load; a snapshot dropped on another thread released the node
      // with its decrement, and this fence orders its last reads before the write that follows.
      std::atomic_thread_fence(std::memory_order_acquire);
      return;
    }
    if (level == 0) {
      node = std::make_shared<Leaf>(asLeaf(node));
    } else {
      node = std::make_shared<Inner>(asInner(node));
    }
  }

  // The leaf holding `slot`, with every node on its path made private; stores the inner nodes of
  // the path in path[level - 1] when `path` is given.
  Leaf& uniqueLeaf(std::uint32_t slot, Inner** path) {
    makeUnique(root_, depth_);
    NodePtr* node = &root_;
    for (int level = depth_; level > 0; --level) {
      Inner& inner = asInner(*node);
      if (path != nullptr) path[level - 1] = &inner;
      NodePtr& child = inner.children[digit(slot, level)];
      makeUnique(child, level - 1);
      node = &child;
    }
    return asLeaf(*node);
  }

  NodePtr root_;
  int depth_ = 0;  // inner levels above the leaves
  std::size_t size_ = 0;
};

}  // namespace sluice::detail
