#include "handwritten_wordcount.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <system_error>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

// Design: the file is mapped read-only; 16 KiB chunks of it are copied, lowercased, into a small
// buffer while a 64-bit "word byte" mask is computed per 64-byte block. Word boundaries come out
// of the masks with tzcnt. Words of up to 8 bytes live entirely in their hash slot (the bytes are
// the key, zero padded); longer words go to a second table and their bytes to an arena.

namespace sluice::bench {
namespace {

static_assert(std::endian::native == std::endian::little);

constexpr size_t kChunk = size_t{16} * 1024;
constexpr size_t kBlock = 64;
constexpr size_t kNoWord = ~size_t{0};
constexpr uint64_t kMul0 = 0x9E3779B97F4A7C15ull;
constexpr uint64_t kMul1 = 0xC2B2AE3D27D4EB4Full;

uint64_t load64(const unsigned char* p) {
  uint64_t v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

// Keeps the lowest `n` bytes of `v`, 1 <= n <= 8.
uint64_t lowBytes(uint64_t v, size_t n) { return v & (~uint64_t{0} >> (64 - 8 * n)); }

// Copies 64 bytes from `src` to `dst` with A-Z lowercased; returns the mask of bytes > ' '.
uint64_t lowerBlock(const unsigned char* src, unsigned char* dst) {
#if defined(__SSE2__)
  const __m128i space = _mm_set1_epi8(' ');
  const __m128i to_signed_a = _mm_set1_epi8(static_cast<char>(0x80 - 'A'));
  const __m128i signed_z_bound = _mm_set1_epi8(static_cast<char>(-128 + 26));
  uint64_t mask = 0;
  for (size_t i = 0; i < 4; ++i) {
    __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + 16 * i));
    __m128i upper = _mm_cmplt_epi8(_mm_add_epi8(v, to_signed_a), signed_z_bound);
    __m128i lowered = _mm_or_si128(v, _mm_and_si128(upper, space));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + 16 * i), lowered);
    __m128i delimiter = _mm_cmpeq_epi8(_mm_min_epu8(v, space), v);
    mask |= uint64_t{static_cast<uint16_t>(~_mm_movemask_epi8(delimiter))} << (16 * i);
  }
  return mask;
#else
  uint64_t mask = 0;
  for (size_t i = 0; i < kBlock; ++i) {
    unsigned char c = src[i];
    dst[i] = (c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c;
    mask |= uint64_t{c > ' '} << i;
  }
  return mask;
#endif
}

// The file mapped read-only and followed by at least one page of zero bytes, so that blocks and
// 8-byte loads may run past the end.
class MappedFile {
 public:
  explicit MappedFile(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw std::system_error(errno, std::generic_category(), "open " + path);
    struct stat st;
    if (::fstat(fd, &st) != 0) fail(fd, "fstat " + path);
    size_ = static_cast<size_t>(st.st_size);
    auto page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
    length_ = (size_ + page - 1) / page * page + page;
    void* region = ::mmap(nullptr, length_, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (region == MAP_FAILED) fail(fd, "mmap");
    data_ = static_cast<const unsigned char*>(region);
    if (size_ > 0 && ::mmap(region, size_, PROT_READ, MAP_PRIVATE | MAP_FIXED | MAP_POPULATE, fd,
                            0) == MAP_FAILED) {
      int err = errno;
      ::munmap(region, length_);
      errno = err;
      fail(fd, "mmap " + path);
    }
    ::close(fd);
  }
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile() { ::munmap(const_cast<unsigned char*>(data_), length_); }

  [[nodiscard]] const unsigned char* data() const { return data_; }
  [[nodiscard]] size_t size() const { return size_; }

 private:
  [[noreturn]] static void fail(int fd, const std::string& what) {
    int err = errno;
    ::close(fd);
    throw std::system_error(err, std::generic_category(), what);
  }

  const unsigned char* data_ = nullptr;
  size_t size_ = 0;
  size_t length_ = 0;
};

// Open addressing with linear probing; a slot is empty while its count is 0.
template <typename Slot>
struct SlotTable {
  int bits = 12;
  size_t used = 0;
  std::vector<Slot> slots = std::vector<Slot>(size_t{1} << 12);

  [[nodiscard]] size_t home(uint64_t hash) const { return hash >> (64 - bits); }
  [[nodiscard]] size_t next(size_t i) const { return (i + 1) & (slots.size() - 1); }

  // Counts a new slot; doubles the table once it is 3/4 full.
  template <typename HashFn>
  void noteInsert(HashFn hash_fn) {
    if (++used * 4 <= slots.size() * 3) return;
    std::vector<Slot> old(slots.size() * 2);
    old.swap(slots);
    ++bits;
    for (const Slot& s : old) {
      if (s.count == 0) continue;
      size_t i = home(hash_fn(s));
      while (slots[i].count != 0) i = next(i);
      slots[i] = s;
    }
  }
};

struct ShortSlot {
  uint64_t key;  // the word's bytes, zero padded
  long long count;
};

struct LongSlot {
  uint64_t key0;  // bytes 0-7
  uint64_t key1;  // bytes 8-15, zero padded
  long long count;
  size_t length;
  size_t offset;  // into the arena
};

// Word counts. Words passed in are lowercased and readable for 8 bytes past their end.
class WordTable {
 public:
  WordTable() : arena_(8, 0) {}

  void add(const unsigned char* word, size_t length) {
    if (length > 8) return addLong(word, length);
    uint64_t key = lowBytes(load64(word), length);
    for (size_t i = short_.home(key * kMul0);; i = short_.next(i)) {
      ShortSlot& s = short_.slots[i];
      if (s.key == key) {
        ++s.count;
        return;
      }
      if (s.count == 0) return insertShort(s, key);
    }
  }

  [[nodiscard]] std::vector<std::pair<std::string, long long>> result() const {
    std::vector<std::pair<std::string, long long>> counts;
    counts.reserve(short_.used + long_.used);
    for (const ShortSlot& s : short_.slots) {
      if (s.count == 0) continue;
      char bytes[8];
      std::memcpy(bytes, &s.key, sizeof(bytes));
      counts.emplace_back(std::string(bytes, (std::bit_width(s.key) + 7) / 8), s.count);
    }
    for (const LongSlot& s : long_.slots) {
      if (s.count == 0) continue;
      counts.emplace_back(std::string(arena_.data() + s.offset, s.length), s.count);
    }
    return counts;
  }

 private:
  static uint64_t hashLong(uint64_t key0, uint64_t key1, const unsigned char* word, size_t length) {
    uint64_t h = (key0 * kMul0) ^ (key1 * kMul1);
    if (length > 16) {
      size_t i = 16;
      for (; i + 8 < length; i += 8) h = (h ^ load64(word + i)) * kMul0;
      h ^= lowBytes(load64(word + i), length - i);
    }
    return h * kMul0;
  }

  static bool sameTail(const unsigned char* a, const unsigned char* b, size_t length) {
    return length <= 16 || std::memcmp(a + 16, b + 16, length - 16) == 0;
  }

  [[gnu::noinline]] void addLong(const unsigned char* word, size_t length) {
    uint64_t key0 = load64(word);
    uint64_t key1 = lowBytes(load64(word + 8), std::min<size_t>(length - 8, 8));
    uint64_t hash = hashLong(key0, key1, word, length);
    for (size_t i = long_.home(hash);; i = long_.next(i)) {
      LongSlot& s = long_.slots[i];
      if (s.key0 == key0 && s.key1 == key1 && s.length == length &&
          sameTail(word, arenaAt(s.offset), length)) {
        ++s.count;
        return;
      }
      if (s.count == 0) return insertLong(s, key0, key1, word, length);
    }
  }

  [[gnu::noinline]] void insertShort(ShortSlot& slot, uint64_t key) {
    slot = {key, 1};
    short_.noteInsert([](const ShortSlot& s) { return s.key * kMul0; });
  }

  [[gnu::noinline]] void insertLong(LongSlot& slot, uint64_t key0, uint64_t key1,
                                    const unsigned char* word, size_t length) {
    size_t offset = arena_.size() - 8;
    arena_.insert(arena_.end() - 8, word, word + length);
    slot = {key0, key1, 1, length, offset};
    long_.noteInsert([this](const LongSlot& s) {
      return hashLong(s.key0, s.key1, arenaAt(s.offset), s.length);
    });
  }

  [[nodiscard]] const unsigned char* arenaAt(size_t offset) const {
    return reinterpret_cast<const unsigned char*>(arena_.data()) + offset;
  }

  SlotTable<ShortSlot> short_;
  SlotTable<LongSlot> long_;
  std::vector<char> arena_;  // long words back to back, then 8 zero bytes
};

// Adds a word longer than a chunk, starting at `word` in the mapped file; returns its length.
size_t addHugeWord(WordTable& table, const unsigned char* word, const unsigned char* end) {
  std::vector<unsigned char> lowered;
  for (; word != end && *word > ' '; ++word) {
    unsigned char c = *word;
    lowered.push_back((c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c);
  }
  size_t length = lowered.size();
  lowered.resize(length + 8, 0);
  table.add(lowered.data(), length);
  return length;
}

}  // namespace

std::vector<std::pair<std::string, long long>> handwrittenWordCount(const std::string& path) {
  MappedFile file(path);
  const unsigned char* src = file.data();
  const size_t size = file.size();
  WordTable table;
  std::vector<unsigned char> buffer(kChunk + kBlock + 8);
  unsigned char* buf = buffer.data();
  size_t pos = 0;
  while (pos < size) {
    // Lowercase src[pos, pos + n) into buf and count every word that ends inside it.
    const size_t n = std::min(kChunk, size - pos);
    size_t pending = kNoWord;  // start of a word whose end is not seen yet
    uint64_t carry = 0;        // whether the previous block ended inside a word
    for (size_t off = 0; off < n; off += kBlock) {
      uint64_t mask = lowerBlock(src + pos + off, buf + off);
      uint64_t shifted = (mask << 1) | carry;
      uint64_t starts = mask & ~shifted;
      uint64_t ends = ~mask & shifted;
      carry = mask >> 63;
      if (pending != kNoWord) {
        if (ends == 0) continue;
        table.add(buf + pending, off + std::countr_zero(ends) - pending);
        ends &= ends - 1;
        pending = kNoWord;
      }
      while (starts != 0) {
        size_t start = off + std::countr_zero(starts);
        starts &= starts - 1;
        if (ends == 0) {
          pending = start;
          break;
        }
        table.add(buf + start, off + std::countr_zero(ends) - start);
        ends &= ends - 1;
      }
    }
    if (pending == kNoWord) {
      pos += n;
    } else if (pos + n == size) {
      table.add(buf + pending, n - pending);
      pos += n;
    } else if (pending > 0) {
      pos += pending;  // rescan the unfinished word at the start of the next chunk
    } else {
      pos += addHugeWord(table, src + pos, src + size);
    }
  }
  return table.result();
}

}  // namespace sluice::bench
