// The web UI's static files (src/ui/assets/ and Debian's Chart.js), compiled into the library by
// cmake/embed_assets.cmake so that a running program needs no files and no network.
// Thread-safety: immutable data; every function may be called from any thread.
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

namespace sluice::detail::ui {

struct Asset {
  std::string_view content_type;
  std::string_view bytes;
};

// One file as cmake/embed_assets.cmake writes it (the bytes are followed by a 0 not counted).
struct EmbeddedFile {
  const char* name;
  const unsigned char* bytes;
  std::size_t size;
};
// Defined in the generated source.
extern const EmbeddedFile kEmbeddedFiles[];
extern const std::size_t kEmbeddedFileCount;

// The file named `name` (e.g. "streaming.js", "chart.umd.js"), or std::nullopt.
std::optional<Asset> findAsset(std::string_view name);

}  // namespace sluice::detail::ui
