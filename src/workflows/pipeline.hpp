#pragma once
// The pipeline job (type "pipeline"): classify -> compress -> generate -> store, the AI pipeline
// service's background job. Classify picks the target through an intent route; compress
// shortens a long message through a Compressor (a local model, issue 19; without one the step is
// skipped and says so); generate asks the target with the conversation's memory; store writes
// the exchange into the conversation (idempotently: a job run twice stores one turn). Each step's
// outcome and time is in the job's result.

#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>

#include <functional>
#include <memory>
#include <string>

#include "chat/service.hpp"
#include "core/config.hpp"
#include "core/error.hpp"
#include "gateway/gateway.hpp"
#include "jobs/service.hpp"
#include "workflows/intent_router.hpp"

namespace sb::workflows {

// Prompt compression (LLMLingua-2 on a local token-classification model, issue 19).
class Compressor {
 public:
  virtual ~Compressor() = default;
  struct Compressed {
    std::string text;
    long long origin_tokens = 0, compressed_tokens = 0;
  };
  virtual boost::asio::awaitable<core::Result<Compressed>> compress(std::string text, double rate) = 0;
};

constexpr std::size_t kMaxPipelineMessage = 100000;  // bytes

// A pipeline job's request checked, with its defaults written in: {message, conversation_id?,
// session_id?, user?, route (or model), steps, compress_over_chars, compress_rate, generation:
// {temperature, max_tokens}, system_prompt?}. `default_route` serves a request naming neither
// route nor model. Errors: invalid_field / unknown_parameter naming the field, model_not_found.
core::Result<boost::json::object> check_pipeline(const boost::json::object& request, gateway::Gateway& gateway,
                                                 const IntentRouter& intents, const std::string& default_route);

// The route of pipeline jobs that name none: workflows.pipeline_route, else the first intent
// route, else the first routable model; "" when there is nothing.
std::string default_pipeline_route(const core::Config& config, gateway::Gateway& gateway);

class Pipeline {
 public:
  // All must outlive the pipeline; compressor may be null.
  Pipeline(gateway::Gateway& gateway, IntentRouter& intents, chat::Service& chat, Compressor* compressor,
           int memory_turns);

  // Runs the job (its request as check_pipeline left it).
  boost::asio::awaitable<core::Result<jobs::Service::Handled>> run(const jobs::Job& job,
                                                                   std::shared_ptr<core::CancelSignal> cancel,
                                                                   std::shared_ptr<core::RequestContext> meter);

 private:
  gateway::Gateway& gateway_;
  IntentRouter& intents_;
  chat::Service& chat_;
  Compressor* compressor_;
  int memory_turns_;
};

}  // namespace sb::workflows
