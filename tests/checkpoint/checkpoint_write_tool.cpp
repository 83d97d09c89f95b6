// A tiny command-line front end to the checkpoint writer and loader, so that enospc_test.sh can
// run a real write under strace's fault injection (real errno values from the kernel's syscall
// layer) and check what is left on disk afterwards.
//
//   checkpoint_write_tool write DIR TIME PAYLOAD   writes DIR's checkpoint for TIME
//   checkpoint_write_tool load DIR                 prints "TIME PAYLOAD" of the latest, or "none"
//
// Exits 1 printing the error's message when the operation throws, 2 on bad usage.
#include <cstdint>
#include <cstdio>
#include <exception>
#include <sluice/error.hpp>
#include <string>
#include <string_view>

#include "checkpoint/checkpoint_file.hpp"

int main(int argc, char** argv) {
  using namespace sluice::detail;
  const std::string_view command = argc > 1 ? argv[1] : "";
  try {
    FileSystem& fs = *FileSystem::local();
    if (command == "write" && argc == 5) {
      CheckpointFile file;
      file.time_ms = std::stoll(argv[3]);
      file.sections.push_back({"payload", argv[4]});
      writeCheckpointFile(fs, argv[2], file);
      return 0;
    }
    if (command == "load" && argc == 3) {
      const auto chain = loadLatestCheckpoint(fs, argv[2]);
      if (!chain) {
        std::printf("none\n");
      } else {
        const CheckpointSection* payload = chain->back().find("payload");
        std::printf("%lld %s\n", static_cast<long long>(chain->back().time_ms),
                    payload != nullptr ? payload->payload.c_str() : "");
      }
      return 0;
    }
  } catch (const std::exception& e) {  // sluice::Error, or a TIME that is not a number
    std::fprintf(stderr, "checkpoint_write_tool: %s\n", e.what());
    return 1;
  }
  std::fprintf(stderr, "usage: %s write DIR TIME PAYLOAD | load DIR\n", argv[0]);
  return 2;
}
