// New private key files for demo configurations (signing.keys[].generate and
// space.demo_identity_provider.generate, both accepted by the config loader in demo mode only).
// Production keys are provisioned by the operator; nothing here is used for them.
//
// Blocking (key generation, file I/O, fsync): call before the workers start or on the control
// thread. Nothing throws; failures return false with `error` set (a path and errno text, never
// key material).
#pragma once

#include <filesystem>
#include <string>

#include "gateway/signing/keys.h"

namespace qaqpa::signing {

// Generates a fresh `alg` key (Ed25519 or ECDSA P-256) and writes it to `path` as unencrypted
// PKCS#8 PEM with mode 0600, creating the parent directories. Never overwrites: fails if `path`
// already exists (O_EXCL). The file and its directory are fsync'd before returning true.
bool generatePrivateKeyFileBlocking(Algorithm alg, const std::filesystem::path& path,
                                    std::string& error);

}  // namespace qaqpa::signing
