// A small, strict RFC 8941 structured-field parser: exactly what RFC 9421 (Signature-Input,
// Signature) and RFC 9530 (Content-Digest) need — Dictionaries whose members are Items or Inner
// Lists, Parameters, and the bare item types Integer, String, Token, Boolean and Byte Sequence.
// Decimals, Lists and Dates are not supported and are reported as UnsupportedType.
//
// Deliberately stricter than RFC 8941 where the RFC tolerates ambiguity an attacker could use
// against a signature verifier: a repeated dictionary key or parameter key is an error (RFC 8941
// lets the last one win), and byte sequences must be canonical padded base64.
//
// Bounded: input ≤ kMaxInputBytes, ≤ kMaxMembers dictionary members, ≤ kMaxInnerListItems items
// per inner list, ≤ kMaxParameters parameters per item or list. Pure functions; thread-safe;
// never throw (allocation failure aside); non-blocking.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace qaqpa::signing::sf {

inline constexpr std::size_t kMaxInputBytes = 8 * 1024;
inline constexpr std::size_t kMaxMembers = 64;
inline constexpr std::size_t kMaxInnerListItems = 64;
inline constexpr std::size_t kMaxParameters = 64;

enum class BareKind : std::uint8_t { Integer, String, Token, Boolean, ByteSequence };

struct BareItem {
  BareKind kind = BareKind::Boolean;
  std::int64_t integer = 0;  // Integer
  bool boolean = true;       // Boolean
  std::string text;          // String (unescaped), Token, ByteSequence (decoded bytes)

  bool operator==(const BareItem&) const = default;
};

struct Parameter {
  std::string key;
  BareItem value;
  bool operator==(const Parameter&) const = default;
};
using Parameters = std::vector<Parameter>;

// Returns the parameter with this key, or null.
const BareItem* findParameter(const Parameters& params, std::string_view key) noexcept;

struct Item {
  BareItem value;
  Parameters params;
  bool operator==(const Item&) const = default;
};

struct InnerList {
  std::vector<Item> items;
  Parameters params;
  bool operator==(const InnerList&) const = default;
};

struct Member {
  std::string key;
  bool is_inner_list = false;
  Item item;       // when !is_inner_list
  InnerList list;  // when is_inner_list
  bool operator==(const Member&) const = default;
};

struct Dictionary {
  std::vector<Member> members;  // in input order; keys are unique
  const Member* find(std::string_view key) const noexcept;
  bool operator==(const Dictionary&) const = default;
};

enum class ParseError : std::uint8_t {
  None,
  TooLong,             // input over kMaxInputBytes
  TooManyMembers,      // over kMaxMembers
  TooManyItems,        // inner list over kMaxInnerListItems
  TooManyParameters,   // over kMaxParameters
  BadKey,              // key does not start with lcalpha or '*', or is empty
  DuplicateKey,        // dictionary key repeated
  DuplicateParameter,  // parameter key repeated on one item or list
  BadInteger,          // no digit, more than 15 digits
  BadString,           // unterminated, bad escape, byte outside %x20-7E
  BadBoolean,          // '?' not followed by 0 or 1
  BadByteSequence,     // unterminated or not canonical padded base64
  BadInnerList,        // unterminated, or items not separated by SP
  BadItem,             // a byte that starts no bare item
  UnsupportedType,     // decimal, date or display string (valid RFC 8941/9651, not needed here)
  ExpectedComma,       // members not separated by ','
  TrailingComma,       // ',' followed by the end of input
};

std::string_view parseErrorName(ParseError error) noexcept;

struct DictionaryParse {
  Dictionary dict;
  ParseError error = ParseError::None;
  std::size_t offset = 0;  // byte offset of the error in the input
  bool ok() const noexcept { return error == ParseError::None; }
};

// Parses a whole field value (several field lines joined with ", " beforehand). An empty or
// all-space value is an empty dictionary (RFC 8941 §4.2: the field is then treated as absent).
DictionaryParse parseDictionary(std::string_view input);

// Canonical serialisation (RFC 8941 §4.1). Strings and tokens are serialised as stored; the caller
// guarantees they are valid (anything parsed by this file is).
std::string serializeBareItem(const BareItem& item);
std::string serializeParameters(const Parameters& params);
std::string serializeItem(const Item& item);
std::string serializeInnerList(const InnerList& list);
std::string serializeDictionary(const Dictionary& dict);

// Standard base64 with padding (RFC 4648 §4). The decoder is strict: no whitespace, length a
// multiple of 4, padding only at the end, unused bits zero.
std::string base64Encode(std::string_view bytes);
std::optional<std::string> base64Decode(std::string_view text);

}  // namespace qaqpa::signing::sf
