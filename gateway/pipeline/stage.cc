#include "gateway/pipeline/stage.h"

#include <cstddef>
#include <exception>
#include <string>
#include <string_view>

#include "gateway/common/ids.h"
#include "gateway/common/log.h"
#include "gateway/pipeline/problem.h"

namespace qaqpa::pipeline {
namespace {

// Trace ids exist only for bugs, so the generator is created on the first exception of a thread
// and never on the hot path.
std::string newTraceId() {
  thread_local common::UuidV7Generator generator;
  return common::toString(generator.nextNow());
}

// The exception text goes to the log only: it may name files, addresses or values the client
// must never see. The client gets INTERNAL with the message id it already knows.
common::Failure internalFailure(const Exchange& ex, const char* stage, const char* hook,
                                std::string_view what) {
  common::Failure f{common::StatusCode::Internal, common::Reason::InternalError, {}, {}};
  const std::string trace_id = newTraceId();
  const std::string message_id =
      ex.envelope_parsed ? common::toString(ex.envelope.message_id) : std::string{};
  common::log(common::LogLevel::Error, "stage threw",
              {{"stage", stage},
               {"hook", hook},
               {"trace_id", trace_id},
               {"message_id", message_id},
               {"error", what}});
  f.internal = trace_id;
  return f;
}

std::string_view exceptionText(const std::exception_ptr& e) noexcept {
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    return ex.what();
  } catch (...) {
  }
  return "non-standard exception";
}

}  // namespace

boost::asio::awaitable<void> Stage::onResponse(Exchange&) { co_return; }

boost::asio::awaitable<void> Chain::run(Exchange& ex) {
  // Stages whose onRequest ran (including the one that failed or threw): they all see onResponse.
  std::size_t ran = 0;
  bool responded = false;
  for (const auto& stage : stages_) {
    ++ran;
    std::exception_ptr thrown;
    StageResult result;
    try {
      result = co_await stage->onRequest(ex);
    } catch (...) {
      thrown = std::current_exception();
    }
    if (thrown) {
      ex.failure = internalFailure(ex, stage->name(), "onRequest", exceptionText(thrown));
      renderProblem(ex, *ex.failure);
      responded = true;
      break;
    }
    if (result.action == StageResult::Action::Continue) continue;
    if (result.action == StageResult::Action::Fail) {
      ex.failure = std::move(result.failure);
      renderProblem(ex, *ex.failure);
    }
    responded = true;
    break;
  }
  // Every stage continued and none answered: a wiring bug, and deny by default.
  if (!responded) {
    ex.failure = internalFailure(ex, "chain", "run", "no stage produced a response");
    renderProblem(ex, *ex.failure);
  }

  while (ran > 0) {
    Stage& stage = *stages_[--ran];
    std::exception_ptr thrown;
    try {
      co_await stage.onResponse(ex);
    } catch (...) {
      thrown = std::current_exception();
    }
    // onResponse must not throw; if one does, the response it was finishing (e.g. making the
    // event durable) cannot be trusted, so fail closed.
    if (thrown) {
      ex.failure = internalFailure(ex, stage.name(), "onResponse", exceptionText(thrown));
      renderProblem(ex, *ex.failure);
    }
  }
  addGatewayHeaders(ex);
}

}  // namespace qaqpa::pipeline
