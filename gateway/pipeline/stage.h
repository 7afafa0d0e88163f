// Stage interface and the chain that runs stages in order (ARCHITECTURE.md "Stages").
// Stages are built per worker (they may own per-worker resources such as an upstream pool) and
// called only on that worker's thread.
#pragma once

#include <memory>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "gateway/common/failure.h"
#include "gateway/pipeline/exchange.h"

namespace qaqpa::pipeline {

struct StageResult {
  enum class Action { Continue, Respond, Fail };
  Action action = Action::Continue;
  common::Failure failure;  // with Fail

  static StageResult next() { return {}; }
  static StageResult respond() { return {Action::Respond, {}}; }  // ex.response is complete
  static StageResult fail(common::Failure f) { return {Action::Fail, std::move(f)}; }
};

class Stage {
 public:
  virtual ~Stage() = default;
  virtual const char* name() const noexcept = 0;
  // Inspect or enrich the request; the terminal stage (routing) fills ex.response and Responds.
  virtual boost::asio::awaitable<StageResult> onRequest(Exchange& ex) = 0;
  // Called in reverse order for every stage whose onRequest ran, success or failure, after the
  // response (or problem) is in ex.response. Must not throw.
  virtual boost::asio::awaitable<void> onResponse(Exchange& ex);
};

// Runs the stages; on Fail renders the failure into ex.response as problem+json (problem.h) and
// sets ex.status. Always leaves a complete ex.response with the gateway's Qaqpa-* headers.
class Chain {
 public:
  explicit Chain(std::vector<std::unique_ptr<Stage>> stages) : stages_(std::move(stages)) {}
  boost::asio::awaitable<void> run(Exchange& ex);

 private:
  std::vector<std::unique_ptr<Stage>> stages_;
};

}  // namespace qaqpa::pipeline
