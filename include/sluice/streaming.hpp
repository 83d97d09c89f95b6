// Umbrella header for Sluice's streaming API.
#pragma once

#include <sluice/streaming/clock.hpp>
#include <sluice/streaming/dstream.hpp>
#include <sluice/streaming/listener.hpp>
#include <sluice/streaming/output.hpp>
#include <sluice/streaming/receiver.hpp>
#include <sluice/streaming/state.hpp>
#include <sluice/streaming/streaming_context.hpp>
#include <sluice/streaming/transform.hpp>
#include <sluice/streaming/window.hpp>
