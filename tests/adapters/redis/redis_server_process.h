// A real redis-server child process for tests and benchmarks: its own temp dir, a free loopback
// port (found by binding port 0) and/or a unix socket, no persistence unless asked. start() waits
// (bounded) until the server accepts connections; kill() is SIGKILL; the destructor kills and
// removes the temp dir. Blocking; call it outside the io_context under test.
#pragma once

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace qaqpa::adapters::redis::testing {

class RedisServerProcess {
 public:
  struct Options {
    bool unix_socket = false;
    std::string requirepass;
    std::vector<std::string> extra_args;
  };

  explicit RedisServerProcess(Options options) : options_(std::move(options)) {
    std::string tmpl = (std::filesystem::temp_directory_path() / "qaqpa-redis-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) std::abort();
    dir_ = tmpl;
    port_ = freePort();
    if (options_.unix_socket) unix_path_ = (std::filesystem::path(dir_) / "redis.sock").string();
  }
  RedisServerProcess() : RedisServerProcess(Options{}) {}

  ~RedisServerProcess() {
    kill();
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  RedisServerProcess(const RedisServerProcess&) = delete;
  RedisServerProcess& operator=(const RedisServerProcess&) = delete;

  std::uint16_t port() const { return port_; }
  const std::string& unixPath() const { return unix_path_; }
  const std::string& dir() const { return dir_; }

  // Starts (or restarts, same port and socket) the server; false when it did not accept
  // connections within the bound.
  bool start() {
    std::vector<std::string> args = {"redis-server",
                                     "--port",
                                     std::to_string(port_),
                                     "--bind",
                                     "127.0.0.1",
                                     "--save",
                                     "",
                                     "--appendonly",
                                     "no",
                                     "--dir",
                                     dir_,
                                     "--enable-debug-command",
                                     "local",
                                     "--daemonize",
                                     "no"};
    if (!unix_path_.empty()) {
      args.insert(args.end(), {"--unixsocket", unix_path_, "--unixsocketperm", "700"});
    }
    if (!options_.requirepass.empty()) {
      args.insert(args.end(), {"--requirepass", options_.requirepass});
    }
    args.insert(args.end(), options_.extra_args.begin(), options_.extra_args.end());
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);

    const std::string log = dir_ + "/redis.log";
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    const int rc = posix_spawnp(&pid_, "redis-server", &fa, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) {
      pid_ = -1;
      return false;
    }
    return waitAccepting(std::chrono::seconds(10));
  }

  void kill() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
  }

  // A loopback TCP port nobody listens on right now (bind to 0, read it, close).
  static std::uint16_t freePort() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    ::close(fd);
    return ntohs(a.sin_port);
  }

 private:
  bool acceptsNow() const {
    int fd;
    int rc;
    if (!unix_path_.empty()) {
      fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
      sockaddr_un a{};
      a.sun_family = AF_UNIX;
      std::strncpy(a.sun_path, unix_path_.c_str(), sizeof a.sun_path - 1);
      rc = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    } else {
      fd = ::socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      a.sin_port = htons(port_);
      rc = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    }
    ::close(fd);
    return rc == 0;
  }

  // Polls the condition "the server accepts" until the bound; the child dying ends it early.
  bool waitAccepting(std::chrono::milliseconds bound) {
    const auto end = std::chrono::steady_clock::now() + bound;
    while (std::chrono::steady_clock::now() < end) {
      if (acceptsNow()) return true;
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return false;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return false;
  }

  Options options_;
  std::string dir_;
  std::string unix_path_;
  std::uint16_t port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace qaqpa::adapters::redis::testing
