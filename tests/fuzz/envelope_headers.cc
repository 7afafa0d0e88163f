// Fuzz target: the envelope stage (request target and Qaqpa-* headers → pipeline::Envelope) on a
// request built from the input (fuzz_request.h), run to completion on a private io_context as a
// worker would. Invariants: the stage never throws; it either continues with a parsed envelope
// or fails with a 400 VALIDATION_FAILED.
#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <optional>
#include <utility>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include "gateway/envelope/envelope_stage.h"
#include "tests/fuzz/fuzz_request.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using qaqpa::pipeline::StageResult;
  static const std::unique_ptr<qaqpa::pipeline::Stage> stage = qaqpa::envelope::makeEnvelopeStage();
  qaqpa::pipeline::Exchange ex(nullptr, qaqpa::config::Zone::State,
                               qaqpa::fuzz::requestFromBytes(data, size));
  boost::asio::io_context ioc;
  std::optional<StageResult> result;
  bool threw = false;
  boost::asio::co_spawn(ioc, stage->onRequest(ex), [&](std::exception_ptr e, StageResult r) {
    if (e) {
      threw = true;
    } else {
      result = std::move(r);
    }
  });
  ioc.run();
  if (threw || !result) __builtin_trap();
  if (result->action == StageResult::Action::Continue && !ex.envelope_parsed) __builtin_trap();
  if (result->action == StageResult::Action::Fail && result->failure.httpStatus() != 400) {
    __builtin_trap();
  }
  return 0;
}
