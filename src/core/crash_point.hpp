// Named crash points for the recovery tests: when the environment variable SLUICE_CRASH_AT is
// "<name>:<n>", the n-th time the process passes crash point <name> it kills itself with SIGKILL,
// as `kill -9` at that exact moment would. Unset (always, outside the kill harness), a crash
// point costs one relaxed atomic load. Thread-safe.
#pragma once

#include <string_view>

namespace sluice::detail {

// Points: "batch-computed" (outputs ran, state not yet committed), "checkpoint-written" (the
// checkpoint's temporary file is complete, not renamed), "checkpoint-renamed" (renamed, the
// directory not yet synced), "output-staged" (an output directory's files are written, not
// yet moved into place), "block-logged" (a receiver's block is in its write-ahead log, store()
// has not returned), "allocation-logged" (a batch's blocks are logged as given to it, the batch
// has not run).
void crashPoint(std::string_view name);

}  // namespace sluice::detail
