// Server: builds everything from a config snapshot and runs it (ARCHITECTURE.md layer 4).
// Threads: the caller's thread runs signal handling and drain coordination; one worker thread per
// configured worker, each with its own io_context, acceptors (SO_REUSEPORT: the kernel spreads
// connections), sessions, stage chain and upstream pool. Workers share only the snapshot pointer
// (atomic), metric handles and the connection limiter.
#pragma once

#include <memory>
#include <string>

#include "gateway/config/config.h"

namespace qaqpa::server {

class Server {
 public:
  explicit Server(std::shared_ptr<const config::Snapshot> snapshot);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds every listener (blocking; call before run). On failure returns false with `error`.
  bool bind(std::string& error);

  // Writes {"state": port, ...} for the bound listeners atomically (tmp + rename). Blocking.
  bool writePortsFileBlocking(const std::string& path, std::string& error) const;

  // Serves until SIGTERM/SIGINT, then drains (stop accepting, finish in-flight requests, close
  // idle connections) for at most drain_timeout; a second signal stops at once. Returns the
  // process exit code.
  int run();

  struct Impl;  // opaque; public only so the workers in server.cc can name it

 private:
  // The space listener's state (docs/space.md): identity providers, demo login, the page, the
  // event index fed by the journal and rebuilt from its files on the read pool. Part of bind().
  bool bindSpace(const config::Snapshot& snap, std::string& error);

  std::unique_ptr<Impl> impl_;
};

}  // namespace qaqpa::server
