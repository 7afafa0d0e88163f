// HTTP/1.1 head serialization for the hot path: the status or request line and every header
// field, written into one caller-owned buffer that is reused across messages, so a message goes
// out as one gather write (head + body) with no per-field buffer sequence and, after warm-up, no
// allocation. Beast's generic serializer walks the fields as a long buffer sequence; measured at
// 40% of the gateway's instructions per proxied request (benchmarks/RESULTS.md).
//
// The fields are written as stored: values come from Beast's parser (which refuses CR/LF in
// values) or from the gateway itself. Content-Length is added when a message has neither it nor
// Transfer-Encoding, so the peer never has to read until close.
#pragma once

#include <string>

#include "gateway/pipeline/exchange.h"

namespace qaqpa::pipeline {

void serializeHead(Response& res, std::string& out);
void serializeHead(Request& req, std::string& out);

}  // namespace qaqpa::pipeline
