// AsyncStage: the asynchronous exchange of PROTOCOL.md §4 in the stage chain, between the policy
// and routing stages (docs/async.md).
//   - A service call with `Prefer: respond-async` that passed the policy (identity, grant,
//     consent, quota) is stored durably in Redis and queued (MessageStore::submit) BEFORE the
//     answer: 202 Accepted, Preference-Applied: respond-async, Location: /v1/messages/{id},
//     {"messageId", "state"}, Qaqpa-Status ACCEPTED. The same client repeating the message id with
//     the same request gets the same 202 (no second delivery); with a different request 409
//     DUPLICATE/MESSAGE_ID_CONFLICT. Redis not answering: 503 ASYNC_STORE_UNAVAILABLE (never a 202
//     without durability); the partition at async.max_queued: 503 ASYNC_QUEUE_FULL + Retry-After.
//   - GET /v1/messages/{id}: the submitting client's message only (another client's is 404
//     MESSAGE_UNKNOWN, exactly like an unknown id): pending 202 {"messageId","state","attempts"};
//     DELIVERED 200 with the provider's stored status, content type, allowed headers and body;
//     NOT_DELIVERED / DELIVERY_STOPPED 200 {"messageId","state","attempts","status": problem}.
//   - DELETE /v1/messages/{id}: QUEUED (incl. waiting for a retry) → DELIVERY_STOPPED 200;
//     DISPATCHED → 202 {"state":"DISPATCHED","cancelRequested":true} (stopped when the attempt in
//     flight ends without delivering); final → 409 DUPLICATE/MESSAGE_FINAL.
//   - Async off (no Redis or async.enabled: false): Prefer is ignored (the call continues
//     synchronously, no Preference-Applied) and /v1/messages/... is 404 ASYNC_NOT_ENABLED.
// One stage per worker, called on that worker's thread only; never blocks (Redis calls have the
// redis.command_timeout deadline); no throw.
#pragma once

#include <functional>
#include <memory>

#include "gateway/async/message_store.h"
#include "gateway/metrics/metrics.h"
#include "gateway/pipeline/stage.h"

namespace qaqpa::async {

// Per-worker wiring, owned by the worker; the stage reads it per request, so the store may be
// attached after the stage is built (the worker makes its Redis client in bind()).
struct AsyncContext {
  MessageStore* store = nullptr;             // null: the async exchange is off
  metrics::AsyncMetrics* metrics = nullptr;  // nullable
  std::function<void()> on_submitted;        // a new message was queued (wakes the dispatcher)
};

std::unique_ptr<pipeline::Stage> makeAsyncStage(AsyncContext& cx);

// The request headers kept for the delivery: end-to-end headers minus the gateway's own
// (Qaqpa-*), credentials, signatures, framing and Prefer (the provider is called synchronously).
bool keepRequestHeader(std::string_view name) noexcept;

}  // namespace qaqpa::async
