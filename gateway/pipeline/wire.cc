#include "gateway/pipeline/wire.h"

#include <boost/beast/http/field.hpp>

namespace qaqpa::pipeline {
namespace {

template <class Message>
void ensureLength(Message& m) {
  if (!m.has_content_length() && !m.chunked()) m.content_length(m.body().size());
}

template <class Fields>
void appendFields(const Fields& fields, std::string& out) {
  for (const auto& f : fields) {
    out.append(f.name_string());
    out.append(": ");
    out.append(f.value());
    out.append("\r\n");
  }
  out.append("\r\n");
}

void appendVersion(unsigned version, std::string& out) {
  out.append(version == 10 ? "HTTP/1.0" : "HTTP/1.1");
}

}  // namespace

void serializeHead(Response& res, std::string& out) {
  ensureLength(res);
  out.clear();
  appendVersion(res.version(), out);
  const unsigned code = res.result_int();
  const char digits[4] = {static_cast<char>(' '), static_cast<char>('0' + code / 100 % 10),
                          static_cast<char>('0' + code / 10 % 10),
                          static_cast<char>('0' + code % 10)};
  out.append(digits, 4);
  out.push_back(' ');
  out.append(res.reason());
  out.append("\r\n");
  appendFields(res, out);
}

void serializeHead(Request& req, std::string& out) {
  // A request without a body needs no Content-Length; one with a body always gets it.
  if (!req.body().empty()) ensureLength(req);
  out.clear();
  out.append(req.method_string());
  out.push_back(' ');
  out.append(req.target());
  out.push_back(' ');
  appendVersion(req.version(), out);
  out.append("\r\n");
  appendFields(req, out);
}

}  // namespace qaqpa::pipeline
