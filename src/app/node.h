#pragma once
// A running chat-engine node: builds every module from a Config, serves until SIGTERM/SIGINT,
// then shuts down in phases. The only place that knows every module.
#include "app/config.h"

namespace chat::app {

// Returns the process exit code.
int run_node(const Config& config);

}  // namespace chat::app
