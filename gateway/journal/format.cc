#include "gateway/journal/format.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <openssl/evp.h>

#include "gateway/common/crc32c.h"
#include "gateway/journal/file_ops.h"
#include "qaqpa/journal/v1/journal.pb.h"

namespace qaqpa::journal {
namespace {

void putU32(std::string& out, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}

std::uint32_t getU32(const char* p) {
  std::uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

void putVarint(std::string& out, std::uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7F) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

void putTag(std::string& out, int field, int wire_type) {
  putVarint(out, (static_cast<std::uint64_t>(field) << 3) | static_cast<std::uint64_t>(wire_type));
}

std::string errnoText(std::string_view what, const std::filesystem::path& p) {
  return std::string(what) + " " + p.string() + ": " + std::strerror(errno);
}

bool readWholeFile(const std::filesystem::path& file, std::string& out, std::string& error) {
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    error = errnoText("cannot open", file);
    return false;
  }
  // Read straight into the string, sized from fstat (segments are up to 64 MiB: growing a buffer
  // 64 KiB at a time and copying through a stack buffer was 40 % of `verify`). The file may still
  // grow while we read (the gateway appending): keep reading until EOF.
  struct stat st {};
  std::size_t capacity = 1 << 16;
  if (::fstat(fd, &st) == 0 && st.st_size > 0) capacity = static_cast<std::size_t>(st.st_size) + 1;
  out.resize(capacity);
  std::size_t used = 0;
  for (;;) {
    if (used == out.size()) out.resize(out.size() * 2);
    const ssize_t n = ::read(fd, out.data() + used, out.size() - used);
    if (n < 0) {
      if (errno == EINTR) continue;
      error = errnoText("cannot read", file);
      ::close(fd);
      out.clear();
      return false;
    }
    if (n == 0) break;
    used += static_cast<std::size_t>(n);
  }
  out.resize(used);
  ::close(fd);
  return true;
}

bool writeAllAndSync(FileOps& ops, int fd, std::string_view bytes) {
  return writeAll(ops, fd, bytes.data(), bytes.size()) && ops.fsync(fd) == 0;
}

}  // namespace

void serializeCanonical(const google::protobuf::MessageLite& m, std::string& out) {
  out.clear();
  google::protobuf::io::StringOutputStream sos(&out);
  google::protobuf::io::CodedOutputStream cos(&sos);
  cos.SetSerializationDeterministic(true);
  m.SerializeToCodedStream(&cos);
  cos.Trim();
}

std::string canonicalBytes(const google::protobuf::MessageLite& m) {
  std::string out;
  serializeCanonical(m, out);
  return out;
}

std::string segmentFileName(std::uint64_t segment_index, std::uint64_t first_seq) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "seg-%08llu-%020llu.qj",
                static_cast<unsigned long long>(segment_index),
                static_cast<unsigned long long>(first_seq));
  return buf;
}

void appendFrame(std::string& out, std::string_view payload) {
  putU32(out, static_cast<std::uint32_t>(payload.size()));
  putU32(out, common::crc32c(payload));
  out.append(payload);
}

std::string_view frameStatusName(FrameStatus s) noexcept {
  switch (s) {
    case FrameStatus::Ok:
      return "ok";
    case FrameStatus::End:
      return "end of file";
    case FrameStatus::Truncated:
      return "record runs past the end of the file";
    case FrameStatus::BadLength:
      return "record length out of range";
    case FrameStatus::BadCrc:
      return "record CRC-32C mismatch";
  }
  return "unknown";
}

Frame readFrame(std::string_view bytes) noexcept {
  if (bytes.empty()) return {FrameStatus::End, {}, 0};
  if (bytes.size() < kFrameHeaderBytes) return {FrameStatus::Truncated, {}, 0};
  const std::uint32_t length = getU32(bytes.data());
  if (length == 0 || length > kMaxFramePayloadBytes) return {FrameStatus::BadLength, {}, 0};
  if (bytes.size() - kFrameHeaderBytes < length) return {FrameStatus::Truncated, {}, 0};
  const std::string_view payload = bytes.substr(kFrameHeaderBytes, length);
  if (common::crc32c(payload) != getU32(bytes.data() + 4)) return {FrameStatus::BadCrc, {}, 0};
  return {FrameStatus::Ok, payload, kFrameHeaderBytes + length};
}

void appendSeqAndPrevHash(std::string& event, std::uint64_t seq, std::string_view prev_hash) {
  putTag(event, kFieldSeq, 0);
  putVarint(event, seq);
  putTag(event, kFieldPrevHash, 2);
  putVarint(event, prev_hash.size());
  event.append(prev_hash);
}

void appendHashField(std::string& event, std::string_view hash) {
  putTag(event, kFieldHash, 2);
  putVarint(event, hash.size());
  event.append(hash);
}

void chainHashInto(std::string_view prev_hash, std::string_view canonical_head,
                   std::string_view canonical_tail, char* out) noexcept {
  // One digest context per thread, reused: EVP_MD_CTX allocation costs more than the hash. The
  // algorithm is fetched once: EVP_sha256() makes every init look it up again under a lock.
  static EVP_MD* const sha256 = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  struct Ctx {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    ~Ctx() { EVP_MD_CTX_free(ctx); }
  };
  thread_local Ctx c;
  unsigned int len = 0;
  EVP_DigestInit_ex2(c.ctx, sha256, nullptr);
  EVP_DigestUpdate(c.ctx, prev_hash.data(), prev_hash.size());
  EVP_DigestUpdate(c.ctx, canonical_head.data(), canonical_head.size());
  EVP_DigestUpdate(c.ctx, canonical_tail.data(), canonical_tail.size());
  EVP_DigestFinal_ex(c.ctx, reinterpret_cast<unsigned char*>(out), &len);
}

std::string chainHash(std::string_view prev_hash, std::string_view canonical_without_hash) {
  std::string out(kHashBytes, '\0');
  chainHashInto(prev_hash, canonical_without_hash, {}, out.data());
  return out;
}

bool splitHashField(std::string_view event, std::string_view& canonical_without_hash,
                    std::string_view& hash) noexcept {
  // Field 31, wire type 2: tag varint 0xFA 0x01, then length 0x20, then the 32 bytes.
  constexpr std::size_t kFieldBytes = 3 + kHashBytes;
  if (event.size() < kFieldBytes) return false;
  const std::string_view field = event.substr(event.size() - kFieldBytes);
  if (static_cast<unsigned char>(field[0]) != 0xFA || field[1] != 0x01 ||
      field[2] != static_cast<char>(kHashBytes)) {
    return false;
  }
  canonical_without_hash = event.substr(0, event.size() - kFieldBytes);
  hash = field.substr(3);
  return true;
}

std::string wrapEventRecord(std::string_view event_bytes) {
  std::string out;
  out.reserve(event_bytes.size() + 6);
  putTag(out, 1, 2);
  putVarint(out, event_bytes.size());
  out.append(event_bytes);
  return out;
}

SegmentScan scanSegmentBlocking(const std::filesystem::path& file) {
  SegmentScan scan;
  std::string bytes;
  if (!readWholeFile(file, bytes, scan.error)) return scan;
  scan.opened = true;
  scan.file_size = bytes.size();
  if (bytes.size() < kSegmentMagic.size() ||
      std::string_view(bytes).substr(0, kSegmentMagic.size()) != kSegmentMagic) {
    scan.magic_ok = false;
    scan.stop =
        bytes.size() < kSegmentMagic.size() ? FrameStatus::Truncated : FrameStatus::BadLength;
    scan.stop_offset = 0;
    return scan;
  }
  scan.magic_ok = true;
  std::size_t off = kSegmentMagic.size();
  const std::string_view all(bytes);
  for (;;) {
    const Frame f = readFrame(all.substr(off));
    if (f.status != FrameStatus::Ok) {
      scan.stop = f.status;
      scan.stop_offset = off;
      break;
    }
    scan.frames.push_back({off, std::string(f.payload)});
    off += f.size;
  }
  if (scan.stop != FrameStatus::End) {
    // Is there any valid record later? Then this is not a torn tail but damage in the middle.
    for (std::size_t p = off + 1; p + kFrameHeaderBytes < all.size(); ++p) {
      const Frame f = readFrame(all.substr(p));
      if (f.status != FrameStatus::Ok) continue;
      qaqpa::journal::v1::JournalRecord rec;
      if (rec.ParseFromArray(f.payload.data(), static_cast<int>(f.payload.size())) &&
          rec.body_case() != qaqpa::journal::v1::JournalRecord::BODY_NOT_SET) {
        scan.valid_frame_after_stop = true;
        break;
      }
    }
  }
  return scan;
}

std::optional<ManifestBytes> readManifestBlocking(const std::filesystem::path& dir,
                                                  std::string& error, bool& error_absent) {
  error_absent = false;
  const auto path = dir / std::string(kManifestName);
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    error_absent = true;
    error = "no " + path.string();
    return std::nullopt;
  }
  std::string bytes;
  if (!readWholeFile(path, bytes, error)) return std::nullopt;
  const Frame f = readFrame(bytes);
  if (f.status != FrameStatus::Ok || f.size != bytes.size()) {
    error = path.string() + ": " +
            std::string(f.status == FrameStatus::Ok ? "trailing bytes after the manifest"
                                                    : frameStatusName(f.status));
    return std::nullopt;
  }
  return ManifestBytes{std::string(f.payload)};
}

bool writeManifestBlocking(const std::filesystem::path& dir, std::string_view manifest_payload,
                           std::string& error, FileOps* ops_or_null) {
  FileOps& ops = ops_or_null != nullptr ? *ops_or_null : posixFileOps();
  const auto tmp = dir / (std::string(kManifestName) + ".tmp");
  const auto path = dir / std::string(kManifestName);
  std::string bytes;
  appendFrame(bytes, manifest_payload);
  const int fd = ops.open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
  if (fd < 0) {
    error = errnoText("cannot create", tmp);
    return false;
  }
  if (!writeAllAndSync(ops, fd, bytes)) {
    error = errnoText("cannot write", tmp);
    ops.close(fd);
    ops.unlink(tmp.c_str());
    return false;
  }
  ops.close(fd);
  if (ops.rename(tmp.c_str(), path.c_str()) != 0) {
    error = errnoText("cannot rename", tmp);
    ops.unlink(tmp.c_str());
    return false;
  }
  return fsyncDirBlocking(dir, error, &ops);
}

bool fsyncDirBlocking(const std::filesystem::path& dir, std::string& error, FileOps* ops_or_null) {
  FileOps& ops = ops_or_null != nullptr ? *ops_or_null : posixFileOps();
  const int fd = ops.open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
  if (fd < 0) {
    error = errnoText("cannot open directory", dir);
    return false;
  }
  const bool ok = ops.fsync(fd) == 0;
  if (!ok) error = errnoText("cannot fsync directory", dir);
  ops.close(fd);
  return ok;
}

namespace {

class PosixFileOps final : public FileOps {
 public:
  int open(const char* path, int flags, mode_t mode) override { return ::open(path, flags, mode); }
  int close(int fd) override { return ::close(fd); }
  ssize_t write(int fd, const void* data, std::size_t size) override {
    return ::write(fd, data, size);
  }
  int fdatasync(int fd) override { return ::fdatasync(fd); }
  int fsync(int fd) override { return ::fsync(fd); }
  int ftruncate(int fd, off_t length) override { return ::ftruncate(fd, length); }
  int rename(const char* from, const char* to) override { return ::rename(from, to); }
  int unlink(const char* path) override { return ::unlink(path); }
};

}  // namespace

FileOps& posixFileOps() noexcept {
  static PosixFileOps ops;
  return ops;
}

bool writeAll(FileOps& ops, int fd, const char* data, std::size_t size) {
  while (size > 0) {
    const ssize_t n = ops.write(fd, data, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    if (n == 0) {
      errno = EIO;  // a regular file never accepts 0 bytes of a non-empty write
      return false;
    }
    data += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

}  // namespace qaqpa::journal
