#include "gateway/common/log.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <regex>
#include <string>
#include <thread>
#include <vector>

namespace qaqpa::common {
namespace {

// Redirects fd 2 to a temp file for the lifetime of the object; output() reads it back.
class StderrCapture {
 public:
  StderrCapture() {
    char path[] = "/tmp/qaqpa_log_testXXXXXX";
    fd_ = ::mkstemp(path);
    // O_APPEND so concurrent writers never overwrite each other at a shared offset.
    ::fcntl(fd_, F_SETFL, O_APPEND);
    ::unlink(path);
    saved_ = ::dup(STDERR_FILENO);
    ::dup2(fd_, STDERR_FILENO);
  }
  ~StderrCapture() {
    restore();
    ::close(fd_);
  }

  std::string output() {
    restore();
    std::string out;
    ::lseek(fd_, 0, SEEK_SET);
    char buf[8192];
    ssize_t n;
    while ((n = ::read(fd_, buf, sizeof buf)) > 0) out.append(buf, static_cast<std::size_t>(n));
    return out;
  }

 private:
  void restore() {
    if (saved_ >= 0) {
      ::dup2(saved_, STDERR_FILENO);
      ::close(saved_);
      saved_ = -1;
    }
  }
  int fd_ = -1;
  int saved_ = -1;
};

class LogTest : public ::testing::Test {
 protected:
  void SetUp() override { setLogLevel(LogLevel::Debug); }
  void TearDown() override { setLogLevel(LogLevel::Info); }

  static std::string capture(LogLevel level, std::string_view msg,
                             std::initializer_list<LogField> fields = {}) {
    StderrCapture cap;
    log(level, msg, fields);
    return cap.output();
  }

  // The line without the "ts=... " prefix, which varies.
  static std::string afterTs(const std::string& line) {
    const auto sp = line.find(' ');
    return sp == std::string::npos ? line : line.substr(sp + 1);
  }
};

bool isValidUtf8(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    const auto b = static_cast<unsigned char>(s[i]);
    std::size_t len = 0;
    if (b < 0x80) {
      len = 1;
    } else if ((b >> 5) == 0x6) {
      len = 2;
    } else if ((b >> 4) == 0xE) {
      len = 3;
    } else if ((b >> 3) == 0x1E) {
      len = 4;
    }
    if (len == 0 || i + len > s.size()) return false;
    for (std::size_t k = 1; k < len; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    }
    i += len;
  }
  return true;
}

TEST_F(LogTest, LineShape) {
  const std::string line =
      capture(LogLevel::Info, "listener started", {{"zone", "state"}, {"port", "8443"}});
  static const std::regex kShape(
      R"(ts=\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z level=info msg="listener started" )"
      R"(zone=state port=8443\n)");
  EXPECT_TRUE(std::regex_match(line, kShape)) << line;
}

TEST_F(LogTest, TimestampIsCurrentUtc) {
  const std::string line = capture(LogLevel::Info, "x");
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char date[16];
  std::strftime(date, sizeof date, "%Y-%m-%d", &tm);
  // Off by one day only if the test straddles midnight UTC; the year prefix is enough then.
  EXPECT_EQ(line.substr(3, 4), std::string(date, 4)) << line;
}

TEST_F(LogTest, LevelNames) {
  EXPECT_EQ(afterTs(capture(LogLevel::Debug, "m")), "level=debug msg=\"m\"\n");
  EXPECT_EQ(afterTs(capture(LogLevel::Info, "m")), "level=info msg=\"m\"\n");
  EXPECT_EQ(afterTs(capture(LogLevel::Warn, "m")), "level=warn msg=\"m\"\n");
  EXPECT_EQ(afterTs(capture(LogLevel::Error, "m")), "level=error msg=\"m\"\n");
}

TEST_F(LogTest, LevelFiltering) {
  setLogLevel(LogLevel::Warn);
  EXPECT_FALSE(logEnabled(LogLevel::Debug));
  EXPECT_FALSE(logEnabled(LogLevel::Info));
  EXPECT_TRUE(logEnabled(LogLevel::Warn));
  EXPECT_TRUE(logEnabled(LogLevel::Error));
  EXPECT_EQ(capture(LogLevel::Info, "hidden"), "");
  EXPECT_NE(capture(LogLevel::Error, "shown"), "");
  setLogLevel(LogLevel::Debug);
  EXPECT_TRUE(logEnabled(LogLevel::Debug));
}

TEST_F(LogTest, QuotingAndEscaping) {
  const std::string line = afterTs(capture(LogLevel::Info, "say \"hi\" \\ ok",
                                           {{"plain", "abc-1.2_x/y:z"},
                                            {"space", "a b"},
                                            {"eq", "a=b"},
                                            {"quote", "a\"b"},
                                            {"bslash", "a\\b"},
                                            {"empty", ""},
                                            {"nl", "a\nb"},
                                            {"tab", "a\tb"},
                                            {"ctl", std::string_view("a\x01\x7f", 3)}}));
  EXPECT_EQ(line,
            "level=info msg=\"say \\\"hi\\\" \\\\ ok\" plain=abc-1.2_x/y:z space=\"a b\" "
            "eq=\"a=b\" quote=\"a\\\"b\" bslash=\"a\\\\b\" empty=\"\" nl=\"a\\nb\" "
            "tab=\"a\\tb\" ctl=\"a\\x01\\x7f\"\n");
}

TEST_F(LogTest, Utf8PassesThroughAndInvalidBytesAreEscaped) {
  const std::string line = afterTs(capture(LogLevel::Info, "Сұрау қабылданды",
                                           {{"ru", "Доступ"},
                                            {"bad", std::string_view("a\xff\xc3", 3)},
                                            {"c1", "\xc2\x85"},
                                            {"overlong", "\xc0\xaf"},
                                            {"surrogate", "\xed\xa0\x80"}}));
  EXPECT_EQ(line,
            "level=info msg=\"Сұрау қабылданды\" ru=Доступ bad=\"a\\xff\\xc3\" c1=\"\\xc2\\x85\" "
            "overlong=\"\\xc0\\xaf\" surrogate=\"\\xed\\xa0\\x80\"\n");
  EXPECT_TRUE(isValidUtf8(line));
}

TEST_F(LogTest, KeysAreSanitised) {
  const std::string line = afterTs(capture(LogLevel::Info, "m", {{"a b=c\"", "v"}, {"", "w"}}));
  EXPECT_EQ(line, "level=info msg=\"m\" a_b_c_=v _=w\n");
}

TEST_F(LogTest, LongLinesAreCutAtUtf8BoundaryAndMarked) {
  // 3000 two-byte letters = 6000 bytes, over the 4096-byte line limit.
  std::string value;
  for (int i = 0; i < 3000; ++i) value += "ә";
  for (int shift = 0; shift < 4; ++shift) {
    // Shift the value's start by a byte at a time so the cut falls on each alignment.
    const std::string msg(static_cast<std::size_t>(shift), 'x');
    const std::string line = capture(LogLevel::Info, msg, {{"v", value}, {"after", "1"}});
    EXPECT_LE(line.size(), 4096u);
    EXPECT_EQ(line.back(), '\n');
    EXPECT_EQ(std::count(line.begin(), line.end(), '\n'), 1);
    EXPECT_TRUE(isValidUtf8(line)) << shift;
    // Cyrillic is printable, so the value is unquoted and ends on a whole letter.
    EXPECT_NE(line.find(" v=әә"), std::string::npos);
    EXPECT_NE(line.find("ә truncated=true\n"), std::string::npos) << line.substr(line.size() - 40);
    EXPECT_EQ(line.find("after="), std::string::npos);
  }
}

TEST_F(LogTest, LongQuotedUtf8ValueIsClosedAfterAWholeLetter) {
  std::string value = " ";  // the space forces quoting
  for (int i = 0; i < 3000; ++i) value += "қ";
  for (int shift = 0; shift < 4; ++shift) {
    const std::string msg(static_cast<std::size_t>(shift), 'x');
    const std::string line = capture(LogLevel::Info, msg, {{"v", value}});
    EXPECT_LE(line.size(), 4096u);
    EXPECT_TRUE(isValidUtf8(line)) << shift;
    const std::string tail = "қ\" truncated=true\n";
    ASSERT_GE(line.size(), tail.size());
    EXPECT_EQ(line.substr(line.size() - tail.size()), tail) << shift;
  }
}

TEST_F(LogTest, LongEscapesAreNeverSplit) {
  const std::string value(5000, '"');
  const std::string line = capture(LogLevel::Info, "m", {{"q", value}});
  EXPECT_LE(line.size(), 4096u);
  const std::string tail = "\" truncated=true\n";
  ASSERT_GE(line.size(), tail.size());
  EXPECT_EQ(line.substr(line.size() - tail.size()), tail);
  // The value body is a whole number of \" pairs.
  const auto start = line.find("q=\"") + 3;
  const auto body = line.substr(start, line.size() - tail.size() - start);
  EXPECT_EQ(body.size() % 2, 0u);
  for (std::size_t i = 0; i < body.size(); i += 2) ASSERT_EQ(body.substr(i, 2), "\\\"");
}

TEST_F(LogTest, LongUnquotedValueAndHugeKey) {
  const std::string line =
      capture(LogLevel::Info, "m", {{"v", std::string(5000, 'a')}, {"k", "after"}});
  EXPECT_LE(line.size(), 4096u);
  EXPECT_NE(line.find(" truncated=true\n"), std::string::npos);
  const std::string key(5000, 'k');
  const std::string line2 = capture(LogLevel::Info, "m", {{key, "v"}});
  EXPECT_LE(line2.size(), 4096u);
  EXPECT_NE(line2.find("msg=\"m\" truncated=true\n"), std::string::npos) << line2;
}

TEST_F(LogTest, LogDoesNotClobberErrno) {
  errno = ENOENT;
  (void)capture(LogLevel::Info, "m");
  EXPECT_EQ(errno, ENOENT);
}

TEST_F(LogTest, ConcurrentLinesDoNotInterleave) {
  StderrCapture cap;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([t] {
      const std::string payload(200, static_cast<char>('a' + t));
      for (int i = 0; i < 200; ++i) log(LogLevel::Info, "concurrent", {{"p", payload}});
    });
  }
  for (auto& th : threads) th.join();
  const std::string out = cap.output();
  std::size_t lines = 0;
  for (std::size_t pos = 0; pos < out.size();) {
    const auto nl = out.find('\n', pos);
    ASSERT_NE(nl, std::string::npos);
    const std::string line = out.substr(pos, nl - pos);
    const auto p = line.find(" p=");
    ASSERT_NE(p, std::string::npos) << line;
    const std::string payload = line.substr(p + 3);
    ASSERT_EQ(payload.size(), 200u);
    ASSERT_EQ(payload.find_first_not_of(payload[0]), std::string::npos);
    ++lines;
    pos = nl + 1;
  }
  EXPECT_EQ(lines, 800u);
}

}  // namespace
}  // namespace qaqpa::common
