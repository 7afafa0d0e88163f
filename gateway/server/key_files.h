// Gateway key files at start: turns signing.keys of the config into a signing::GatewayKeySet,
// generating a demo key first where the config asks for it (signing.keys[].generate, accepted by
// the config loader in demo mode only). Blocking (file I/O, key generation): call before the
// workers start or on the control thread.
#pragma once

#include <memory>
#include <string>

#include "gateway/config/config.h"
#include "gateway/signing/gateway_keys.h"

namespace qaqpa::server {

// Null with `error` set (every problem, one per line) when a key cannot be made or loaded.
std::shared_ptr<const signing::GatewayKeySet> loadGatewayKeysBlocking(
    const config::SigningSettings& settings, std::string& error);

}  // namespace qaqpa::server
