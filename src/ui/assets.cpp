#include "ui/assets.hpp"

#include <cstddef>

namespace sluice::detail::ui {

namespace {

std::string_view contentType(std::string_view name) {
  if (name.ends_with(".html")) return "text/html; charset=utf-8";
  if (name.ends_with(".js")) return "text/javascript; charset=utf-8";
  if (name.ends_with(".css")) return "text/css; charset=utf-8";
  if (name.ends_with(".png")) return "image/png";
  if (name.ends_with(".svg")) return "image/svg+xml";
  return "application/octet-stream";
}

}  // namespace

std::optional<Asset> findAsset(std::string_view name) {
  for (std::size_t i = 0; i < kEmbeddedFileCount; ++i) {
    const EmbeddedFile& file = kEmbeddedFiles[i];
    if (name == file.name) {
      return Asset{contentType(name),
                   std::string_view(reinterpret_cast<const char*>(file.bytes), file.size)};
    }
  }
  return std::nullopt;
}

}  // namespace sluice::detail::ui
