// Umbrella header: everything a Sluice program needs.
#pragma once

#include <sluice/conf.hpp>
#include <sluice/context.hpp>
#include <sluice/error.hpp>
#include <sluice/format.hpp>
#include <sluice/hash.hpp>
#include <sluice/listener.hpp>
#include <sluice/log.hpp>
#include <sluice/rdd.hpp>
#include <sluice/serialization.hpp>
#include <sluice/text.hpp>
