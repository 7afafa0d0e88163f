#include "gateway/signing/structured_field.h"

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace qaqpa::signing::sf {
namespace {

constexpr std::size_t kMaxIntegerDigits = 15;
constexpr std::string_view kBase64Alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

bool isDigit(char c) { return c >= '0' && c <= '9'; }
bool isLcAlpha(char c) { return c >= 'a' && c <= 'z'; }
bool isAlpha(char c) { return isLcAlpha(c) || (c >= 'A' && c <= 'Z'); }

// RFC 9110 tchar.
bool isTchar(char c) {
  if (isAlpha(c) || isDigit(c)) return true;
  switch (c) {
    case '!':
    case '#':
    case '$':
    case '%':
    case '&':
    case '\'':
    case '*':
    case '+':
    case '-':
    case '.':
    case '^':
    case '_':
    case '`':
    case '|':
    case '~':
      return true;
    default:
      return false;
  }
}

bool isKeyChar(char c) {
  return isLcAlpha(c) || isDigit(c) || c == '_' || c == '-' || c == '.' || c == '*';
}

int base64Value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

// A cursor over the input; every parse function either advances past what it consumed and
// returns true, or records the first error and returns false.
class Parser {
 public:
  explicit Parser(std::string_view in) : in_(in) {}

  bool atEnd() const { return pos_ >= in_.size(); }
  char peek() const { return atEnd() ? '\0' : in_[pos_]; }
  std::size_t pos() const { return pos_; }
  ParseError error() const { return error_; }
  std::size_t errorOffset() const { return error_offset_; }

  bool fail(ParseError e) {
    if (error_ == ParseError::None) {
      error_ = e;
      error_offset_ = pos_;
    }
    return false;
  }

  void skipSp() {
    while (!atEnd() && in_[pos_] == ' ') ++pos_;
  }
  void skipOws() {
    while (!atEnd() && (in_[pos_] == ' ' || in_[pos_] == '\t')) ++pos_;
  }

  bool parseDictionary(Dictionary& dict) {
    while (!atEnd()) {
      Member member;
      if (!parseKey(member.key)) return false;
      if (dict.find(member.key) != nullptr) return fail(ParseError::DuplicateKey);
      if (peek() == '=') {
        ++pos_;
        if (!parseItemOrInnerList(member)) return false;
      } else {
        member.item.value = BareItem{};  // Boolean true
        if (!parseParameters(member.item.params)) return false;
      }
      if (dict.members.size() >= kMaxMembers) return fail(ParseError::TooManyMembers);
      dict.members.push_back(std::move(member));
      skipOws();
      if (atEnd()) return true;
      if (peek() != ',') return fail(ParseError::ExpectedComma);
      ++pos_;
      skipOws();
      if (atEnd()) return fail(ParseError::TrailingComma);
    }
    return true;
  }

 private:
  bool parseItemOrInnerList(Member& member) {
    if (peek() == '(') {
      member.is_inner_list = true;
      return parseInnerList(member.list);
    }
    return parseItem(member.item);
  }

  bool parseInnerList(InnerList& list) {
    ++pos_;  // '('
    while (!atEnd()) {
      skipSp();
      if (peek() == ')') {
        ++pos_;
        return parseParameters(list.params);
      }
      if (list.items.size() >= kMaxInnerListItems) return fail(ParseError::TooManyItems);
      Item item;
      if (!parseItem(item)) return false;
      list.items.push_back(std::move(item));
      if (peek() != ' ' && peek() != ')') return fail(ParseError::BadInnerList);
    }
    return fail(ParseError::BadInnerList);
  }

  bool parseItem(Item& item) { return parseBareItem(item.value) && parseParameters(item.params); }

  bool parseParameters(Parameters& params) {
    while (peek() == ';') {
      ++pos_;
      skipSp();
      Parameter param;
      if (!parseKey(param.key)) return false;
      if (findParameter(params, param.key) != nullptr) return fail(ParseError::DuplicateParameter);
      if (peek() == '=') {
        ++pos_;
        if (!parseBareItem(param.value)) return false;
      }
      if (params.size() >= kMaxParameters) return fail(ParseError::TooManyParameters);
      params.push_back(std::move(param));
    }
    return true;
  }

  bool parseKey(std::string& key) {
    const char first = peek();
    if (atEnd() || !(isLcAlpha(first) || first == '*')) return fail(ParseError::BadKey);
    const std::size_t start = pos_;
    while (!atEnd() && isKeyChar(in_[pos_])) ++pos_;
    key.assign(in_.substr(start, pos_ - start));
    return true;
  }

  bool parseBareItem(BareItem& item) {
    if (atEnd()) return fail(ParseError::BadItem);
    const char c = peek();
    if (c == '-' || isDigit(c)) return parseInteger(item);
    if (c == '"') return parseString(item);
    if (c == '*' || isAlpha(c)) return parseToken(item);
    if (c == ':') return parseByteSequence(item);
    if (c == '?') return parseBoolean(item);
    if (c == '@' || c == '%') return fail(ParseError::UnsupportedType);
    return fail(ParseError::BadItem);
  }

  bool parseInteger(BareItem& item) {
    bool negative = false;
    if (peek() == '-') {
      negative = true;
      ++pos_;
    }
    std::int64_t value = 0;
    std::size_t digits = 0;
    while (!atEnd() && isDigit(in_[pos_])) {
      if (++digits > kMaxIntegerDigits) return fail(ParseError::BadInteger);
      value = value * 10 + (in_[pos_] - '0');  // ≤ 15 digits: cannot overflow int64
      ++pos_;
    }
    if (digits == 0) return fail(ParseError::BadInteger);
    if (peek() == '.') return fail(ParseError::UnsupportedType);
    item.kind = BareKind::Integer;
    item.integer = negative ? -value : value;
    return true;
  }

  bool parseString(BareItem& item) {
    ++pos_;  // '"'
    std::string out;
    while (!atEnd()) {
      const char c = in_[pos_++];
      if (c == '\\') {
        if (atEnd()) return fail(ParseError::BadString);
        const char next = in_[pos_++];
        if (next != '"' && next != '\\') return fail(ParseError::BadString);
        out.push_back(next);
      } else if (c == '"') {
        item.kind = BareKind::String;
        item.text = std::move(out);
        return true;
      } else if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7e) {
        --pos_;
        return fail(ParseError::BadString);
      } else {
        out.push_back(c);
      }
    }
    return fail(ParseError::BadString);
  }

  bool parseToken(BareItem& item) {
    const std::size_t start = pos_;
    ++pos_;
    while (!atEnd() && (isTchar(in_[pos_]) || in_[pos_] == ':' || in_[pos_] == '/')) ++pos_;
    item.kind = BareKind::Token;
    item.text.assign(in_.substr(start, pos_ - start));
    return true;
  }

  bool parseByteSequence(BareItem& item) {
    const std::size_t start = ++pos_;  // after ':'
    const std::size_t end = in_.find(':', start);
    if (end == std::string_view::npos) return fail(ParseError::BadByteSequence);
    auto decoded = base64Decode(in_.substr(start, end - start));
    if (!decoded) return fail(ParseError::BadByteSequence);
    pos_ = end + 1;
    item.kind = BareKind::ByteSequence;
    item.text = std::move(*decoded);
    return true;
  }

  bool parseBoolean(BareItem& item) {
    ++pos_;  // '?'
    if (peek() != '0' && peek() != '1') return fail(ParseError::BadBoolean);
    item.kind = BareKind::Boolean;
    item.boolean = peek() == '1';
    ++pos_;
    return true;
  }

  std::string_view in_;
  std::size_t pos_ = 0;
  ParseError error_ = ParseError::None;
  std::size_t error_offset_ = 0;
};

}  // namespace

const BareItem* findParameter(const Parameters& params, std::string_view key) noexcept {
  for (const Parameter& p : params) {
    if (p.key == key) return &p.value;
  }
  return nullptr;
}

const Member* Dictionary::find(std::string_view key) const noexcept {
  for (const Member& m : members) {
    if (m.key == key) return &m;
  }
  return nullptr;
}

std::string_view parseErrorName(ParseError error) noexcept {
  switch (error) {
    case ParseError::None:
      return "none";
    case ParseError::TooLong:
      return "too_long";
    case ParseError::TooManyMembers:
      return "too_many_members";
    case ParseError::TooManyItems:
      return "too_many_items";
    case ParseError::TooManyParameters:
      return "too_many_parameters";
    case ParseError::BadKey:
      return "bad_key";
    case ParseError::DuplicateKey:
      return "duplicate_key";
    case ParseError::DuplicateParameter:
      return "duplicate_parameter";
    case ParseError::BadInteger:
      return "bad_integer";
    case ParseError::BadString:
      return "bad_string";
    case ParseError::BadBoolean:
      return "bad_boolean";
    case ParseError::BadByteSequence:
      return "bad_byte_sequence";
    case ParseError::BadInnerList:
      return "bad_inner_list";
    case ParseError::BadItem:
      return "bad_item";
    case ParseError::UnsupportedType:
      return "unsupported_type";
    case ParseError::ExpectedComma:
      return "expected_comma";
    case ParseError::TrailingComma:
      return "trailing_comma";
  }
  return "unknown";
}

DictionaryParse parseDictionary(std::string_view input) {
  DictionaryParse result;
  if (input.size() > kMaxInputBytes) {
    result.error = ParseError::TooLong;
    result.offset = kMaxInputBytes;
    return result;
  }
  Parser parser(input);
  parser.skipSp();
  if (!parser.parseDictionary(result.dict)) {
    result.dict.members.clear();
    result.error = parser.error();
    result.offset = parser.errorOffset();
  }
  return result;
}

std::string serializeBareItem(const BareItem& item) {
  switch (item.kind) {
    case BareKind::Integer:
      return std::to_string(item.integer);
    case BareKind::String: {
      std::string out = "\"";
      for (char c : item.text) {
        if (c == '"' || c == '\\') out.push_back('\\');
        out.push_back(c);
      }
      out.push_back('"');
      return out;
    }
    case BareKind::Token:
      return item.text;
    case BareKind::Boolean:
      return item.boolean ? "?1" : "?0";
    case BareKind::ByteSequence:
      return ":" + base64Encode(item.text) + ":";
  }
  return {};
}

std::string serializeParameters(const Parameters& params) {
  std::string out;
  for (const Parameter& p : params) {
    out += ';';
    out += p.key;
    if (!(p.value.kind == BareKind::Boolean && p.value.boolean)) {
      out += '=';
      out += serializeBareItem(p.value);
    }
  }
  return out;
}

std::string serializeItem(const Item& item) {
  return serializeBareItem(item.value) + serializeParameters(item.params);
}

std::string serializeInnerList(const InnerList& list) {
  std::string out = "(";
  for (std::size_t i = 0; i < list.items.size(); ++i) {
    if (i != 0) out += ' ';
    out += serializeItem(list.items[i]);
  }
  out += ')';
  out += serializeParameters(list.params);
  return out;
}

std::string serializeDictionary(const Dictionary& dict) {
  std::string out;
  for (std::size_t i = 0; i < dict.members.size(); ++i) {
    const Member& m = dict.members[i];
    if (i != 0) out += ", ";
    out += m.key;
    if (m.is_inner_list) {
      out += '=';
      out += serializeInnerList(m.list);
    } else if (m.item.value.kind == BareKind::Boolean && m.item.value.boolean) {
      out += serializeParameters(m.item.params);
    } else {
      out += '=';
      out += serializeItem(m.item);
    }
  }
  return out;
}

std::string base64Encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const std::uint32_t v = (static_cast<std::uint8_t>(bytes[i]) << 16) |
                            (static_cast<std::uint8_t>(bytes[i + 1]) << 8) |
                            static_cast<std::uint8_t>(bytes[i + 2]);
    out += kBase64Alphabet[(v >> 18) & 63];
    out += kBase64Alphabet[(v >> 12) & 63];
    out += kBase64Alphabet[(v >> 6) & 63];
    out += kBase64Alphabet[v & 63];
  }
  const std::size_t rest = bytes.size() - i;
  if (rest == 1) {
    const std::uint32_t v = static_cast<std::uint8_t>(bytes[i]) << 16;
    out += kBase64Alphabet[(v >> 18) & 63];
    out += kBase64Alphabet[(v >> 12) & 63];
    out += "==";
  } else if (rest == 2) {
    const std::uint32_t v = (static_cast<std::uint8_t>(bytes[i]) << 16) |
                            (static_cast<std::uint8_t>(bytes[i + 1]) << 8);
    out += kBase64Alphabet[(v >> 18) & 63];
    out += kBase64Alphabet[(v >> 12) & 63];
    out += kBase64Alphabet[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

std::optional<std::string> base64Decode(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  std::string out;
  out.reserve(text.size() / 4 * 3);
  for (std::size_t i = 0; i < text.size(); i += 4) {
    const bool last = i + 4 == text.size();
    std::array<int, 4> v{};
    int pad = 0;
    for (std::size_t j = 0; j < 4; ++j) {
      const char c = text[i + j];
      if (c == '=') {
        // Padding only in the last quantum, only in its last two places, and only trailing.
        if (!last || j < 2) return std::nullopt;
        ++pad;
        v[j] = 0;
      } else {
        if (pad != 0) return std::nullopt;
        v[j] = base64Value(c);
        if (v[j] < 0) return std::nullopt;
      }
    }
    const std::uint32_t n =
        (static_cast<std::uint32_t>(v[0]) << 18) | (static_cast<std::uint32_t>(v[1]) << 12) |
        (static_cast<std::uint32_t>(v[2]) << 6) | static_cast<std::uint32_t>(v[3]);
    out.push_back(static_cast<char>((n >> 16) & 0xff));
    if (pad == 2) {
      if ((n & 0xffff) != 0) return std::nullopt;  // non-canonical: unused bits set
    } else {
      out.push_back(static_cast<char>((n >> 8) & 0xff));
      if (pad == 1) {
        if ((n & 0xff) != 0) return std::nullopt;
      } else {
        out.push_back(static_cast<char>(n & 0xff));
      }
    }
  }
  return out;
}

}  // namespace qaqpa::signing::sf
