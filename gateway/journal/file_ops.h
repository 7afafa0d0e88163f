// FileOps: the journal's seam over the POSIX calls that change files, so tests can fail the n-th
// operation (ARCHITECTURE.md "Tests") and check that no failure leaves a partial record behind.
//
// Every function has the POSIX signature and convention: -1 (or a negative count) with errno set
// on failure. posixFileOps() is the real thing and is stateless, so any thread may use it; a test
// double must be thread-safe if it is shared by more than one journal. The journal calls these
// only from openBlocking and its writer thread (one virtual call per batch on the hot path).
// Reads (recovery scans, archive verification) go straight to POSIX: failing them is a scan
// failure, which the recovery tests cover with crafted files.
#pragma once

#include <sys/types.h>

#include <cstddef>

namespace qaqpa::journal {

class FileOps {
 public:
  virtual ~FileOps() = default;
  virtual int open(const char* path, int flags, mode_t mode) = 0;
  virtual int close(int fd) = 0;
  virtual ssize_t write(int fd, const void* data, std::size_t size) = 0;
  virtual int fdatasync(int fd) = 0;
  virtual int fsync(int fd) = 0;
  virtual int ftruncate(int fd, off_t length) = 0;
  virtual int rename(const char* from, const char* to) = 0;
  virtual int unlink(const char* path) = 0;
};

// The process-wide POSIX implementation (a static, stateless object).
FileOps& posixFileOps() noexcept;

// Writes all of `size` bytes with as many write() calls as it takes (short writes, EINTR).
// Returns false with errno set by the failing call.
bool writeAll(FileOps& ops, int fd, const char* data, std::size_t size);

}  // namespace qaqpa::journal
