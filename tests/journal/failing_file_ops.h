// FailingFileOps: the POSIX file operations with failures on demand, to test the journal's I/O
// error paths by failing the n-th operation (ARCHITECTURE.md "Tests"). Thread-safe: the test arms
// it on the main thread while the journal's writer calls it.
#pragma once

#include <cerrno>
#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <utility>

#include "gateway/journal/file_ops.h"

namespace qaqpa::journal::test {

enum class Op { Open, Write, Fdatasync, Fsync, Ftruncate, Rename, Unlink, Count };

class FailingFileOps final : public FileOps {
 public:
  // From now on, let `skip` calls of `op` succeed, then fail the next `times` with `err`. For
  // Write, `partial` makes a failing call first write half of its bytes (a short write), so the
  // journal must clean up after itself.
  void failAfter(Op op, int skip, int times, int err, bool partial = false) {
    std::lock_guard lock(mu_);
    auto& r = rules_[static_cast<int>(op)];
    r = Rule{skip, times, err, partial};
  }
  int calls(Op op) const {
    std::lock_guard lock(mu_);
    return calls_[static_cast<int>(op)];
  }
  // Write() blocks while the gate is closed; entered() tells the test a writer is inside.
  void closeGate() {
    std::lock_guard lock(mu_);
    gate_closed_ = true;
  }
  void openGate() {
    {
      std::lock_guard lock(mu_);
      gate_closed_ = false;
    }
    cv_.notify_all();
  }
  void waitUntilWriterBlocked() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return blocked_ > 0; });
  }

  int open(const char* path, int flags, mode_t mode) override {
    if (int e = take(Op::Open); e != 0) return errno = e, -1;
    return posixFileOps().open(path, flags, mode);
  }
  int close(int fd) override { return posixFileOps().close(fd); }
  ssize_t write(int fd, const void* data, std::size_t size) override {
    {
      std::unique_lock lock(mu_);
      if (gate_closed_) {
        ++blocked_;
        cv_.notify_all();
        cv_.wait(lock, [&] { return !gate_closed_; });
        --blocked_;
      }
    }
    {
      std::lock_guard lock(mu_);
      if (fail_next_write_ != 0) {
        const int e = std::exchange(fail_next_write_, 0);
        return errno = e, -1;
      }
    }
    bool partial = false;
    if (int e = take(Op::Write, &partial); e != 0) {
      if (partial && size > 1) {
        const ssize_t n = posixFileOps().write(fd, data, size / 2);
        if (n > 0) {
          // A short write; the call for the rest fails with e.
          std::lock_guard lock(mu_);
          fail_next_write_ = e;
          return n;
        }
      }
      return errno = e, -1;
    }
    return posixFileOps().write(fd, data, size);
  }
  int fdatasync(int fd) override {
    if (int e = take(Op::Fdatasync); e != 0) return errno = e, -1;
    return posixFileOps().fdatasync(fd);
  }
  int fsync(int fd) override {
    if (int e = take(Op::Fsync); e != 0) return errno = e, -1;
    return posixFileOps().fsync(fd);
  }
  int ftruncate(int fd, off_t length) override {
    if (int e = take(Op::Ftruncate); e != 0) return errno = e, -1;
    return posixFileOps().ftruncate(fd, length);
  }
  int rename(const char* from, const char* to) override {
    if (int e = take(Op::Rename); e != 0) return errno = e, -1;
    return posixFileOps().rename(from, to);
  }
  int unlink(const char* path) override {
    if (int e = take(Op::Unlink); e != 0) return errno = e, -1;
    return posixFileOps().unlink(path);
  }

 private:
  struct Rule {
    int skip = 0;
    int times = 0;
    int err = 0;
    bool partial = false;
  };
  // Counts the call; returns the errno to fail it with, or 0.
  int take(Op op, bool* partial = nullptr) {
    std::lock_guard lock(mu_);
    ++calls_[static_cast<int>(op)];
    auto& r = rules_[static_cast<int>(op)];
    if (r.times == 0) return 0;
    if (r.skip > 0) {
      --r.skip;
      return 0;
    }
    --r.times;
    if (partial) *partial = r.partial;
    return r.err;
  }

  mutable std::mutex mu_;
  std::condition_variable cv_;
  Rule rules_[static_cast<int>(Op::Count)];
  int calls_[static_cast<int>(Op::Count)] = {};
  int fail_next_write_ = 0;
  bool gate_closed_ = false;
  int blocked_ = 0;
};

}  // namespace qaqpa::journal::test
