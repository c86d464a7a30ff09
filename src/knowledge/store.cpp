#include "knowledge/store.hpp"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <map>
#include <set>
#include <unordered_map>
#include <unordered_set>
#include <functional>
#include <future>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "core/ids.hpp"
#include "core/log.hpp"
#include "knowledge/extract_sandbox.hpp"
#include "knowledge/store_internal.hpp"
#include "core/json_text.hpp"

namespace sb::knowledge {

using core::Error;
using core::ErrorKind;
using storage::CollectionRow;
using storage::Connection;
using storage::KnowledgeRepository;
using Vectors = std::vector<std::pair<std::int64_t, std::vector<float>>>;

namespace {

// An upload's fields, kept with its bytes until it is processed.
std::string upload_json(const IndexRequest& r) {
  boost::json::object o{{"collection", r.collection}, {"title", r.title}, {"metadata", r.metadata}};
  boost::json::array tags;
  for (const auto& t : r.tags) tags.emplace_back(t);
  o["tags"] = std::move(tags);
  auto put = [&o](const char* key, const std::optional<std::string>& v) {
    if (v) o[key] = *v;
  };
  put("id", r.external_id);
  put("source", r.source);
  put("author", r.author);
  put("content_type", r.content_type);
  return core::to_json(o);
}

IndexRequest upload_request(std::string_view json) {
  IndexRequest r;
  boost::system::error_code ec;
  const auto v = boost::json::parse(json, ec);
  const auto* o = ec ? nullptr : v.if_object();
  if (!o) return r;
  auto text = [o](const char* key) -> std::optional<std::string> {
    const auto* x = o->if_contains(key);
    if (!x || !x->is_string()) return std::nullopt;
    return std::string(x->get_string());
  };
  r.collection = text("collection").value_or("");
  r.title = text("title").value_or("");
  r.metadata = text("metadata").value_or("{}");
  r.external_id = text("id");
  r.source = text("source");
  r.author = text("author");
  r.content_type = text("content_type");
  if (const auto* tags = o->if_contains("tags"); tags && tags->is_array()) {
    for (const auto& t : tags->get_array()) {
      if (t.is_string()) r.tags.emplace_back(t.get_string());
    }
  }
  return r;
}

bool valid_collection_name(std::string_view n) {
  if (n.empty() || n.size() > 64) return false;
  return std::all_of(n.begin(), n.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '_' || c == '-' || c == '.';
  });
}

Error no_collection(std::string_view name) {
  // A deleted collection's row keeps its name as "name~col_id" (names are unique): say it was
  // deleted, by the name the user knows.
  if (const auto tilde = name.find('~'); tilde != std::string_view::npos) {
    return Error(ErrorKind::not_found,
                 "the collection '" + std::string(name.substr(0, tilde)) + "' was deleted", "collection");
  }
  return Error(ErrorKind::not_found, "no collection named '" + std::string(name) + "'", "collection");
}

Error no_document(std::string_view id) {
  return Error(ErrorKind::not_found, "no document with id '" + std::string(id) + "'");
}


core::Result<DocumentView> view(Connection& c, std::string_view id, bool include_text) {
  auto doc = KnowledgeRepository::get_document(c, id);
  if (!doc) return std::move(doc).error();
  if (!*doc) return no_document(id);
  DocumentView v{std::move(**doc), std::nullopt};
  if (include_text) {
    auto text = KnowledgeRepository::document_text(c, v.row.id, v.row.version);
    if (!text) return std::move(text).error();
    v.text = std::move(*text);
  }
  return v;
}

core::Result<CollectionRow> find(Connection& c, const std::string& name) {
  auto col = KnowledgeRepository::find_collection(c, name);
  if (!col) return std::move(col).error();
  if (!*col) return no_collection(name);
  return std::move(**col);
}

}  // namespace

core::Error size_mismatch(const CollectionRow& col, std::size_t got) {
  return Error(ErrorKind::conflict,
               "embedding model '" + col.embedding_model.value_or("") + "' returned " + std::to_string(got) +
                   "-dimensional vectors but collection '" + col.name + "' holds " +
                   std::to_string(col.dimension.value_or(0)) + "-dimensional ones",
               "embedding_model");
}

Task<CollectionRow> Store::create_collection(NewCollection request) {
  if (!valid_collection_name(request.name)) {
    co_return Error(ErrorKind::invalid_field, "'name' must be 1-64 characters from A-Z a-z 0-9 _ - .", "name");
  }
  CollectionRow embedding;
  if (request.embedding_model) {
    if (!embedder_) {
      co_return Error(ErrorKind::invalid_field, "this server has no embedding models", "embedding_model");
    }
    if (auto st = embedder_->check(*request.embedding_model); !st) {
      Error e = std::move(st).error();
      e.param = "embedding_model";
      co_return e;
    }
    auto dim = co_await probe(*request.embedding_model, request.dimensions);
    if (!dim) co_return std::move(dim).error();
    embedding.embedding_model = request.embedding_model;
    embedding.dimension = *dim;
    embedding.embed_dimensions = request.dimensions;
  }
  const bool with_model = request.embedding_model.has_value();
  auto fn = [name = std::move(request.name), id = "col_" + core::new_request_id().substr(0, 24),
             now = clock_.now_ms(), embedding = std::move(embedding), with_model](Connection& c) {
    return KnowledgeRepository::create_collection(c, id, name, now, with_model ? &embedding : nullptr);
  };
  co_return co_await db_.write(std::move(fn));
}

Task<std::int64_t> Store::probe(const std::string& model, std::optional<std::int64_t> dimensions) {
  // One call measures the vector size (and proves the model answers).
  std::vector<std::string> texts{"dimension probe"};
  std::string name = model;  // named: no temporaries in a co_await (GCC 12)
  auto v = co_await embedder_->embed(std::move(name), dimensions, std::move(texts));
  if (!v) co_return std::move(v).error();
  const auto dim = static_cast<std::int64_t>(v->front().size());
  if (dimensions && *dimensions != dim) {
    co_return Error(ErrorKind::conflict,
                    "embedding model '" + model + "' returned " + std::to_string(dim) + "-dimensional vectors, not the " +
                        std::to_string(*dimensions) + " asked",
                    "dimensions");
  }
  co_return dim;
}

Task<CollectionRow> Store::change_model(std::string name, std::string model, std::optional<std::int64_t> dimensions) {
  if (!embedder_) co_return Error(ErrorKind::invalid_field, "this server has no embedding models", "embedding_model");
  if (auto st = embedder_->check(model); !st) {
    Error e = std::move(st).error();
    e.param = "embedding_model";
    co_return e;
  }
  auto current = co_await collection(name);
  if (!current) co_return std::move(current).error();
  if (current->embedding_model == model && current->embed_dimensions == dimensions &&
      current->reembed_state != std::optional<std::string>("running")) {
    co_return std::move(*current);  // nothing changes
  }
  auto dim = co_await probe(model, dimensions);
  if (!dim) co_return std::move(dim).error();
  auto fn = [name, model, dimensions, dim = *dim](Connection& c) -> core::Result<CollectionRow> {
    auto col = find(c, name);
    if (!col) return std::move(col).error();
    // A keyword-only collection gets its first model the same way: its chunks are embedded first.
    if (auto st = KnowledgeRepository::start_reembed(c, col->id, model, dimensions, dim); !st) return std::move(st).error();
    return find(c, name);
  };
  auto started = co_await db_.write(std::move(fn));
  if (!started) co_return std::move(started).error();
  auto ex = co_await boost::asio::this_coro::executor;
  boost::asio::co_spawn(ex, reembed(*started), boost::asio::detached);
  co_return std::move(*started);
}

boost::asio::awaitable<void> Store::reembed(CollectionRow col) {
  const std::string key = col.next_key(), model = *col.next_model;
  const auto dim = static_cast<std::size_t>(*col.next_dimension);
  auto fail = [this, &col](const std::string& why) -> boost::asio::awaitable<void> {
    auto fn = [id = col.id, why](Connection& c) -> core::Result<bool> {
      if (auto st = KnowledgeRepository::set_reembed(c, id, "failed", why, std::nullopt); !st) return std::move(st).error();
      return true;
    };
    co_await db_.write(std::move(fn));
    core::log::warn("embedding model change failed", {{"collection", col.name}, {"error", why}});
  };
  // Embeds live chunks that have no vector under the new model yet, until none is left.
  // Returns the chunk ids embedded (with their vectors), or an error.
  auto embed_missing = [&](bool report) -> Task<Vectors> {
    Vectors done;
    auto count = [id = col.id](Connection& c) -> core::Result<std::size_t> {
      auto all = KnowledgeRepository::live_chunk_ids(c, id);
      if (!all) return std::move(all).error();
      return all->size();
    };
    auto total = co_await db_.run(std::move(count));
    if (!total) co_return std::move(total).error();
    for (;;) {
      auto load = [id = col.id, key](Connection& c) { return KnowledgeRepository::missing_vectors(c, id, key, 256); };
      auto missing = co_await db_.run(std::move(load));
      if (!missing) co_return std::move(missing).error();
      if (missing->empty()) co_return done;
      std::vector<std::string> hashes, texts;
      for (const auto& m : *missing) {
        if (std::find(hashes.begin(), hashes.end(), m.hash) != hashes.end()) continue;
        hashes.push_back(m.hash);
        texts.push_back(m.text);
      }
      std::string name = model;
      auto v = co_await embedder_->embed(std::move(name), col.next_embed_dimensions, std::move(texts));
      if (!v) co_return std::move(v).error();
      std::vector<std::pair<std::string, std::vector<float>>> fresh;
      for (std::size_t i = 0; i < hashes.size(); ++i) {
        if ((*v)[i].size() != dim) {
          co_return Error(ErrorKind::conflict, "embedding model '" + model + "' returned " + std::to_string((*v)[i].size()) +
                                                   "-dimensional vectors, not " + std::to_string(dim));
        }
        fresh.emplace_back(hashes[i], (*v)[i]);
      }
      for (const auto& m : *missing) {
        auto it = std::find(hashes.begin(), hashes.end(), m.hash);
        done.emplace_back(m.chunk_id, (*v)[static_cast<std::size_t>(it - hashes.begin())]);
      }
      const double progress = *total ? std::min(1.0, static_cast<double>(done.size()) / static_cast<double>(*total)) : 1.0;
      auto put = [id = col.id, key, fresh = std::move(fresh), progress, report](Connection& c) -> core::Result<bool> {
        if (auto st = KnowledgeRepository::put_embeddings(c, key, fresh); !st) return std::move(st).error();
        if (report) {
          if (auto st = KnowledgeRepository::set_reembed(c, id, "running", std::nullopt, progress); !st) return std::move(st).error();
        }
        return true;
      };
      auto r = co_await db_.write(std::move(put));
      if (!r) co_return std::move(r).error();
    }
  };
  auto first = co_await embed_missing(true);
  if (!first) co_return co_await fail(first.error().message);
  // A new index of the new vectors, then the switch; searches used the old ones until now.
  auto build = [this, col, key, dim](Connection& c) -> core::Result<std::shared_ptr<VectorIndex>> {
    auto vectors = KnowledgeRepository::live_vectors(c, col.id, key);
    if (!vectors) return std::move(vectors).error();
    auto index = std::make_shared<VectorIndex>(dim, vectors_.params(), vectors->size() + 1024, key);
    for (const auto& [id, v] : *vectors) index->add(id, v.data());
    return index;
  };
  auto index = co_await db_.run(std::move(build));
  if (!index) co_return co_await fail(index.error().message);
  auto flip = [id = col.id](Connection& c) -> core::Result<bool> {
    if (auto st = KnowledgeRepository::finish_reembed(c, id); !st) return std::move(st).error();
    return true;
  };
  auto switched = co_await db_.write(std::move(flip));
  if (!switched) co_return co_await fail(switched.error().message);
  vectors_.replace(col.id, *index);
  bump(col.name);
  // Chunks written while this ran: those with only old-model vectors are embedded now, and the
  // index is reconciled with storage by id (what was written or deleted meanwhile).
  auto late = co_await embed_missing(false);
  if (!late) core::log::warn("embedding model change: late chunks not embedded", {{"error", late.error().message}});
  auto reconcile = [index = *index, id = col.id, key](Connection& c) -> core::Result<bool> {
    auto live = [&c, &id] { return KnowledgeRepository::live_chunk_ids(c, id); };
    auto source = [&c, &id, &key](const std::vector<std::int64_t>* ids) {
      return KnowledgeRepository::live_vectors(c, id, key, ids);
    };
    auto changed = VectorIndexes::reconcile(*index, live, source);
    if (!changed) return std::move(changed).error();
    return true;
  };
  co_await db_.run(std::move(reconcile));
  core::log::info("embedding model changed", {{"collection", col.name}, {"model", model},
                                              {"dimension", static_cast<long long>(dim)}});
}

Task<std::vector<CollectionInfo>> Store::list_collections() {
  auto fn = [](Connection& c) -> core::Result<std::vector<CollectionInfo>> {
    auto rows = KnowledgeRepository::list_collections(c);
    if (!rows) return std::move(rows).error();
    std::vector<CollectionInfo> out;
    for (auto& r : *rows) {
      auto n = KnowledgeRepository::collection_counts(c, r.id);
      if (!n) return std::move(n).error();
      out.push_back(CollectionInfo{std::move(r), n->first, n->second});
    }
    return out;
  };
  co_return co_await db_.run(std::move(fn));
}

Task<CollectionInfo> Store::get_collection(std::string name) {
  auto fn = [name = std::move(name)](Connection& c) -> core::Result<CollectionInfo> {
    auto col = find(c, name);
    if (!col) return std::move(col).error();
    auto n = KnowledgeRepository::collection_counts(c, col->id);
    if (!n) return std::move(n).error();
    return CollectionInfo{std::move(*col), n->first, n->second};
  };
  co_return co_await db_.run(std::move(fn));
}

std::uint64_t Store::content_version(std::string_view collection) const {
  std::lock_guard lock(versions_mu_);
  auto it = versions_.find(collection);
  return it == versions_.end() ? 0 : it->second;
}

void Store::bump(const std::string& collection) {
  std::lock_guard lock(versions_mu_);
  versions_[collection] = ++version_clock_;  // (monotonic: a recreated collection never repeats one)
}

Task<CollectionRow> Store::delete_collection(std::string name) {
  auto fn = [name = std::move(name), now = clock_.now_ms()](Connection& c) -> core::Result<CollectionRow> {
    auto col = find(c, name);
    if (!col) return std::move(col).error();
    auto done = KnowledgeRepository::delete_collection(c, name, now);
    if (!done) return std::move(done).error();
    return std::move(*col);
  };
  auto r = co_await db_.write(std::move(fn));
  if (r) {
    vectors_.drop(r->id);
    keyword_.drop(r->id);
    bump(r->name);
  }
  co_return r;
}

Task<Extracted> Store::extract(std::string_view bytes, std::string content_type, std::string filename) {
  if (static_cast<std::int64_t>(bytes.size()) > options_.max_document_bytes) {
    co_return Error(ErrorKind::payload_too_large,
                    "the file is " + std::to_string(bytes.size()) + " bytes; the limit is " +
                        std::to_string(options_.max_document_bytes) + " (knowledge.max_document_bytes)",
                    "file");
  }
  auto fn = [this, bytes, content_type = std::move(content_type), filename = std::move(filename)] {
    if (options_.extractor) return options_.extractor(bytes, content_type, filename);
    return knowledge::extract(bytes, content_type, filename, options_.extract_limits);
  };
  auto& pool = options_.extract_pool ? *options_.extract_pool : db_.pool();
  auto r = co_await pool.run(std::move(fn));
  if (r && r->invalid_utf8 > 0) {
    core::log::warn("invalid UTF-8 replaced", {{"sequences", static_cast<long long>(r->invalid_utf8)}});
  }
  co_return r;
}

Task<DocumentView> Store::submit(IndexRequest request, std::string bytes, std::string content_type,
                                 std::string filename) {
  if (static_cast<std::int64_t>(bytes.size()) > options_.max_document_bytes) {
    co_return Error(ErrorKind::payload_too_large,
                    "the file is " + std::to_string(bytes.size()) + " bytes; the limit is " +
                        std::to_string(options_.max_document_bytes) + " (knowledge.max_document_bytes)",
                    "file");
  }
  storage::DocumentInsert doc;
  doc.id = "doc_" + core::new_request_id().substr(0, 24);
  doc.external_id = request.external_id;
  doc.title = request.title.empty() ? filename : request.title;
  doc.source = request.source ? request.source : std::optional<std::string>(filename);
  doc.author = request.author;
  doc.metadata = request.metadata;
  {
    boost::json::array tags;
    for (const auto& t : request.tags) tags.emplace_back(t);
    doc.tags = core::to_json(tags);
  }
  doc.now = clock_.now_ms();
  // The upload is kept with the document's pending row (one transaction) until it is processed.
  const storage::UploadRow kept{request.document_id.value_or(doc.id), upload_json(request), content_type, filename, {}};
  auto fn = [doc = std::move(doc), name = request.collection, document_id = request.document_id, &kept,
             &bytes](Connection& c) mutable -> core::Result<DocumentView> {
    auto col = find(c, name);
    if (!col) return std::move(col).error();
    storage::UploadRow row = kept;
    if (document_id) {
      auto v = view(c, *document_id, false);
      if (!v) return std::move(v).error();
      row.document_id = v->row.id;
      if (v->row.deleted_at) return Error(ErrorKind::conflict, "document " + *document_id + " is deleted: restore it first");
      if (v->row.state == "pending" || v->row.state == "processing") {
        return Error(ErrorKind::conflict, "document " + *document_id + " is still processing an upload");
      }
      if (auto st = KnowledgeRepository::set_state(c, *document_id, "pending", std::nullopt, 0.0); !st) return std::move(st).error();
    } else {
      doc.collection_id = col->id;
      if (auto st = KnowledgeRepository::add_pending(c, doc); !st) return std::move(st).error();
    }
    if (auto st = KnowledgeRepository::save_upload(c, row, bytes, doc.now); !st) return std::move(st).error();
    return view(c, row.document_id, false);
  };
  auto placed = co_await db_.write(std::move(fn));
  if (!placed) co_return std::move(placed).error();
  request.document_id = placed->row.id;
  auto ex = co_await boost::asio::this_coro::executor;
  boost::asio::co_spawn(ex, process(std::move(request), std::move(bytes), std::move(content_type), std::move(filename)),
                        boost::asio::detached);
  co_return std::move(*placed);
}

boost::asio::awaitable<void> Store::process(IndexRequest request, std::string bytes, std::string content_type,
                                            std::string filename) {
  const std::string id = *request.document_id;
  auto begin = [id](Connection& c) { return KnowledgeRepository::begin_upload_attempt(c, id); };
  auto attempts = co_await db_.write(std::move(begin));
  if (attempts && *attempts > kMaxUploadAttempts) {
    co_await set_state(id, "failed",
                       "processing this upload was interrupted " + std::to_string(*attempts - 1) +
                           " times (the server stopped or crashed while it ran): upload it again",
                       std::nullopt);
    core::log::warn("upload given up", {{"document", id}, {"attempts", static_cast<long long>(*attempts - 1)}});
  } else if (!co_await process_upload(std::move(request), std::move(bytes), std::move(content_type),
                                      std::move(filename))) {
    co_return;  // interrupted by shutdown: kept, to be processed again at start
  }
  // Processed (ready or failed): the kept bytes go. Should the server stop before this, the
  // upload is processed again at start, which writes nothing new for the same content.
  auto forget = [id](Connection& c) -> core::Result<bool> {
    if (auto st = KnowledgeRepository::delete_upload(c, id); !st) return std::move(st).error();
    return true;
  };
  if (auto r = co_await db_.write(std::move(forget)); !r) {
    core::log::warn("processed upload not forgotten", {{"document", id}, {"error", r.error().message}});
  }
}

boost::asio::awaitable<bool> Store::process_upload(IndexRequest request, std::string bytes, std::string content_type,
                                                   std::string filename) {
  const std::string id = *request.document_id;
  co_await set_state(id, "processing", std::nullopt, 0.0);
  auto fail = [this, &id](const Error& e) { return set_state(id, "failed", e.message, std::nullopt); };
  std::string_view view_bytes = bytes;
  std::string type = std::move(content_type), name = filename;
  auto extracted = co_await extract(view_bytes, std::move(type), std::move(name));
  if (!extracted && extracted.error().kind == ErrorKind::unavailable && extracted.error().where == kShutdownWhere) {
    co_return false;  // the extraction workers are shutting down
  }
  if (!extracted) {
    co_await fail(extracted.error());
    co_return true;
  }
  bytes.clear();
  bytes.shrink_to_fit();
  if (auto st = use_extracted(request, std::move(*extracted), filename); !st) {
    co_await fail(st.error());
    co_return true;
  }
  auto progress = [this, id](double p) -> boost::asio::awaitable<void> {
    co_await set_state(id, "processing", std::nullopt, p);
  };
  auto r = co_await index(std::move(request), progress);
  if (!r) {
    co_await fail(r.error());
    co_return true;
  }
  // add_version set it ready; an unchanged upload wrote nothing: ready as it was.
  if (r->unchanged) co_await set_state(id, "ready", std::nullopt, std::nullopt);
  core::log::info("upload processed", {{"document", id}, {"chunks", static_cast<long long>(r->chunks)},
                                       {"version", r->version}});
  co_return true;
}

boost::asio::awaitable<void> Store::set_state(std::string id, std::string state, std::optional<std::string> error,
                                              std::optional<double> progress) {
  auto fn = [id = std::move(id), state = std::move(state), error = std::move(error), progress](Connection& c) -> core::Result<bool> {
    if (auto st = KnowledgeRepository::set_state(c, id, state, error, progress); !st) return std::move(st).error();
    return true;
  };
  auto r = co_await db_.write(std::move(fn));
  if (!r) core::log::warn("document state not saved", {{"error", r.error().message}});
}

boost::asio::awaitable<void> Store::warm() {
  const auto t0 = std::chrono::steady_clock::now();
  auto list = [](Connection& c) { return KnowledgeRepository::list_collections(c); };
  auto cols = co_await db_.run(std::move(list));
  if (!cols || cols->empty()) co_return;
  for (const auto& col : *cols) {
    auto open = [this, col](Connection& c) -> core::Result<bool> {
      if (auto k = open_keyword(c, col.id); !k) return std::move(k).error();
      if (col.embedding_model && col.dimension) {
        if (auto v = open_index(c, col); !v) return std::move(v).error();
      }
      return true;
    };
    if (auto r = co_await db_.run(std::move(open)); !r) {
      core::log::warn("knowledge index not opened", {{"collection", col.name}, {"error", r.error().message}});
    }
  }
  core::log::info("knowledge indexes ready",
                  {{"collections", static_cast<long long>(cols->size())},
                   {"ms", static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                                     std::chrono::steady_clock::now() - t0)
                                                     .count())}});
}

core::Result<std::int64_t> Store::recover() {
  return db_.run_sync([](Connection& c) {
    return KnowledgeRepository::fail_unfinished(c, "the server stopped while this upload was processed: upload it again");
  });
}

boost::asio::awaitable<void> Store::start() {
  co_await warm();
  struct Unfinished {
    std::vector<storage::UploadRow> uploads;
    std::vector<CollectionRow> reembeds;
  };
  auto load = [](Connection& c) -> core::Result<Unfinished> {
    auto uploads = KnowledgeRepository::uploads(c);
    if (!uploads) return std::move(uploads).error();
    auto reembeds = KnowledgeRepository::running_reembeds(c);
    if (!reembeds) return std::move(reembeds).error();
    return Unfinished{std::move(*uploads), std::move(*reembeds)};
  };
  auto unfinished = co_await db_.run(std::move(load));
  if (!unfinished) {
    core::log::error("unfinished knowledge work not read", {{"error", unfinished.error().message}});
    co_return;
  }
  auto ex = co_await boost::asio::this_coro::executor;
  for (auto& col : unfinished->reembeds) {
    core::log::info("embedding model change resumed", {{"collection", col.name}, {"model", *col.next_model}});
    boost::asio::co_spawn(ex, reembed(std::move(col)), boost::asio::detached);
  }
  if (!unfinished->uploads.empty()) {
    core::log::info("uploads resumed", {{"documents", static_cast<long long>(unfinished->uploads.size())}});
  }
  for (auto& u : unfinished->uploads) {
    auto request = upload_request(u.request);
    request.document_id = u.document_id;
    co_await process(std::move(request), std::move(u.bytes), std::move(u.content_type), std::move(u.filename));
  }
}

Task<Extracted> Store::fetch(std::string url) {
  if (!client_) co_return Error(ErrorKind::invalid_field, "this server does not fetch URLs", "url");
  auto fetched = co_await fetch_url(*client_, std::move(url), options_.url);
  if (!fetched) co_return std::move(fetched).error();
  std::string_view bytes = fetched->body;
  std::string type = fetched->content_type, name = fetched->filename;
  co_return co_await extract(bytes, std::move(type), std::move(name));
}

Task<CollectionRow> Store::collection(const std::string& name) {
  auto fn = [name](Connection& c) { return find(c, name); };
  co_return co_await db_.run(std::move(fn));
}

namespace {

// What the read before an index write found.
struct Existing {
  CollectionRow collection;
  std::optional<KnowledgeRepository::DocumentRef> document;
  std::unordered_map<std::string, std::vector<float>> cached;  // chunk hash -> vector
};

// The document a write replaces: by id (PUT) or by caller id in the collection.
core::Result<std::optional<KnowledgeRepository::DocumentRef>> existing_document(
    Connection& c, const CollectionRow& col, const storage::DocumentInsert& doc,
    const std::optional<std::string>& document_id) {
  using Ref = std::optional<KnowledgeRepository::DocumentRef>;
  if (document_id) {
    auto d = KnowledgeRepository::get_document(c, *document_id);
    if (!d) return std::move(d).error();
    if (!*d || (*d)->collection != col.name) return no_document(*document_id);
    if ((*d)->deleted_at) {
      return Error(ErrorKind::conflict, "document " + *document_id + " is deleted: restore it first");
    }
    return Ref(KnowledgeRepository::DocumentRef{(*d)->id, (*d)->version, (*d)->content_hash});
  }
  if (!doc.external_id) return Ref();
  return KnowledgeRepository::find_by_external_id(c, col.id, *doc.external_id);
}

}  // namespace

core::Status use_extracted(IndexRequest& in, Extracted extracted, const std::string& name) {
  in.content = std::move(extracted.text);
  in.pages = std::move(extracted.pages);
  in.content_type = extracted.content_type;
  if (in.title.empty()) in.title = !extracted.title.empty() ? extracted.title : name;
  if (!in.source && !name.empty()) in.source = name;
  auto blank = [](const std::string& p) { return p.find_first_not_of(" \t\r\n\f\v") == std::string::npos; };
  if (in.pages.empty() ? blank(in.content) : std::all_of(in.pages.begin(), in.pages.end(), blank)) {
    return Error(ErrorKind::unprocessable, "no text could be extracted from the document (a scanned PDF?)", "file");
  }
  return {};
}

namespace {

// The rows of a document: chunks (pages one by one, so each chunk keeps its page number), their
// hashes and the content hash. Metadata, tags, author and source are part of the version too: a
// change to them alone is a new version.
core::Result<storage::DocumentInsert> prepare_document(IndexRequest& request, const ChunkOptions& chunking,
                                                       std::int64_t now) {
  const bool has_pages = !request.pages.empty();
  storage::DocumentInsert doc;
  doc.id = "doc_" + core::new_request_id().substr(0, 24);
  doc.external_id = std::move(request.external_id);
  doc.title = std::move(request.title);
  doc.source = std::move(request.source);
  doc.author = std::move(request.author);
  doc.metadata = std::move(request.metadata);
  doc.content_type = std::move(request.content_type);
  {
    boost::json::array tags;
    for (auto& t : request.tags) tags.emplace_back(t);
    doc.tags = core::to_json(tags);
  }
  doc.now = now;
  std::string all_text = doc.title + "\n";
  auto add_chunks = [&](const std::string& text, std::optional<std::int64_t> page) {
    for (auto& ch : chunk_text(text, chunking)) {
      storage::ChunkInsert ci;
      ci.ord = static_cast<int>(doc.chunks.size());
      ci.hash = normalized_hash(ch.text);
      ci.heading = std::move(ch.heading);
      ci.page = page;
      ci.text = std::move(ch.text);
      doc.chunks.push_back(std::move(ci));
    }
  };
  if (has_pages) {
    doc.pages = static_cast<std::int64_t>(request.pages.size());
    for (std::size_t i = 0; i < request.pages.size(); ++i) {
      add_chunks(request.pages[i], static_cast<std::int64_t>(i + 1));
      all_text += request.pages[i] + "\f";
    }
  } else {
    add_chunks(request.content, std::nullopt);
    all_text += request.content;
  }
  if (doc.chunks.empty()) {  // e.g. Markdown that is only headings: nothing could be searched
    return Error(ErrorKind::unprocessable, "the document has no text to index (only headings or markup)", "text");
  }
  doc.content_hash = normalized_hash(all_text + "\n" + doc.tags + "\n" + doc.metadata + "\n" +
                                     doc.author.value_or("") + "\n" + doc.source.value_or(""));
  return doc;
}

}  // namespace

Task<Indexed> Store::index(IndexRequest request, std::function<boost::asio::awaitable<void>(double)> progress) {
  const bool has_pages = !request.pages.empty();
  auto blank = [](const std::string& s) { return s.find_first_not_of(" \t\r\n\f\v") == std::string::npos; };
  if (has_pages ? std::all_of(request.pages.begin(), request.pages.end(), blank) : blank(request.content)) {
    co_return Error(ErrorKind::invalid_field, "the document has no text", "text");
  }
  // Chunking and hashing (linear in the text, bounded by the body limit) on the blocking pool.
  const std::string collection_name = request.collection;
  const std::optional<std::string> document_id = request.document_id;
  const std::shared_ptr<core::RequestContext> meter = request.meter;  // (request moves on below)
  auto prepare = [request = std::move(request), chunking = options_.chunking, now = clock_.now_ms()]() mutable {
    return prepare_document(request, chunking, now);
  };
  auto prepared = co_await db_.pool().run(std::move(prepare));
  if (!prepared) co_return std::move(prepared).error();
  storage::DocumentInsert doc = std::move(*prepared);

  std::vector<std::string> hashes;
  for (const auto& ch : doc.chunks) hashes.push_back(ch.hash);
  std::sort(hashes.begin(), hashes.end());
  hashes.erase(std::unique(hashes.begin(), hashes.end()), hashes.end());

  // Read: the collection, the document this replaces, and which chunks are embedded already.
  auto read = [name = collection_name, &doc, &hashes, document_id](
                  Connection& c) -> core::Result<Existing> {
    auto col = find(c, name);
    if (!col) return std::move(col).error();
    Existing out{std::move(*col), std::nullopt, {}};
    auto ex = existing_document(c, out.collection, doc, document_id);
    if (!ex) return std::move(ex).error();
    out.document = std::move(*ex);
    if (out.collection.embedding_model && !(out.document && out.document->content_hash == doc.content_hash)) {
      auto cached = KnowledgeRepository::cached_embeddings(c, out.collection.embedding_key(), hashes);
      if (!cached) return std::move(cached).error();
      for (auto& [h, v] : *cached) out.cached.emplace(std::move(h), std::move(v));
    }
    return out;
  };
  auto found = co_await db_.run(std::move(read));
  if (!found) co_return std::move(found).error();
  const CollectionRow col = found->collection;
  if (found->document && found->document->content_hash == doc.content_hash) {
    co_return Indexed{found->document->id, found->document->version, doc.chunks.size(), doc.pages,
                      doc.content_hash, false, true, 0};
  }

  // Embed the chunks no cached vector covers.
  std::vector<std::pair<std::string, std::vector<float>>> fresh;
  if (col.embedding_model) {
    if (!embedder_) co_return Error(ErrorKind::unavailable, "this server has no embedding models");
    std::vector<std::string> texts, missing;
    for (const auto& ch : doc.chunks) {
      if (found->cached.count(ch.hash) || std::find(missing.begin(), missing.end(), ch.hash) != missing.end()) continue;
      missing.push_back(ch.hash);
      texts.push_back(ch.text);
    }
    // In slices when someone follows the progress, else in one call (the embedder batches).
    const std::size_t slice = progress ? 64 : std::max<std::size_t>(texts.size(), 1);
    for (std::size_t start = 0; start < texts.size(); start += slice) {
      const std::size_t end = std::min(texts.size(), start + slice);
      std::vector<std::string> part(std::make_move_iterator(texts.begin() + static_cast<std::ptrdiff_t>(start)),
                                    std::make_move_iterator(texts.begin() + static_cast<std::ptrdiff_t>(end)));
      std::string model = *col.embedding_model;
      auto v = co_await embedder_->embed(std::move(model), col.embed_dimensions, std::move(part), meter);
      if (!v) co_return std::move(v).error();
      for (std::size_t i = start; i < end; ++i) {
        auto& vec = (*v)[i - start];
        if (col.dimension && static_cast<std::int64_t>(vec.size()) != *col.dimension) co_return size_mismatch(col, vec.size());
        found->cached.emplace(missing[i], vec);
        fresh.emplace_back(missing[i], std::move(vec));
      }
      if (progress) co_await progress(static_cast<double>(end) / static_cast<double>(texts.size()));
    }
  }

  // Keep what the in-memory indexes need before the document moves into the write.
  std::vector<std::string> chunk_hashes;
  std::vector<Bm25Doc> keyword_docs;
  for (const auto& ch : doc.chunks) {
    chunk_hashes.push_back(ch.hash);
    keyword_docs.push_back(Bm25Doc{0, doc.title, ch.heading, ch.text});
  }
  struct Written {
    Indexed indexed;
    std::vector<std::int64_t> added, removed;
  };
  auto fn = [doc = std::move(doc), col, fresh = std::move(fresh), document_id](
                Connection& c) mutable -> core::Result<Written> {
    // Checked again inside the write: the collection may have gone, the caller id been taken.
    auto now_col = find(c, col.name);
    if (!now_col) return std::move(now_col).error();
    if (now_col->id != col.id) return no_collection(col.name);
    doc.collection_id = col.id;
    Written out{Indexed{doc.id, 1, doc.chunks.size(), doc.pages, doc.content_hash}, {}, {}};
    out.indexed.embedded = fresh.size();
    if (!fresh.empty()) {
      if (auto st = KnowledgeRepository::put_embeddings(c, col.embedding_key(), fresh); !st) return std::move(st).error();
    }
    auto existing = existing_document(c, col, doc, document_id);
    if (!existing) return std::move(existing).error();
    if (*existing) {
      out.indexed.id = (*existing)->id;
      out.indexed.created = false;
      if ((*existing)->content_hash == doc.content_hash) {
        out.indexed.version = (*existing)->version;
        out.indexed.unchanged = true;
        return out;
      }
      auto old = KnowledgeRepository::chunk_ids(c, (*existing)->id, (*existing)->version);
      if (!old) return std::move(old).error();
      out.removed = std::move(*old);
      auto v = KnowledgeRepository::add_version(c, **existing, doc, &out.added);
      if (!v) return std::move(v).error();
      out.indexed.version = *v;
      return out;
    }
    auto ids = KnowledgeRepository::add_document(c, doc);
    if (!ids) return std::move(ids).error();
    out.added = std::move(*ids);
    return out;
  };
  auto written = co_await db_.write(std::move(fn));
  if (!written) co_return std::move(written).error();
  if (!written->indexed.unchanged) {
    for (std::size_t i = 0; i < written->added.size() && i < keyword_docs.size(); ++i) keyword_docs[i].id = written->added[i];
    keyword_docs.resize(std::min(keyword_docs.size(), written->added.size()));
    std::string collection_id = col.id;
    std::vector<std::int64_t> removed = written->removed;
    co_await update_keyword(std::move(collection_id), std::move(keyword_docs), std::move(removed));
  }
  if (col.embedding_model && !written->indexed.unchanged) {
    Vectors add;
    for (std::size_t i = 0; i < written->added.size() && i < chunk_hashes.size(); ++i) {
      auto it = found->cached.find(chunk_hashes[i]);
      if (it != found->cached.end()) add.emplace_back(written->added[i], it->second);
    }
    CollectionRow target = col;
    co_await update_index(std::move(target), std::move(add), std::move(written->removed));
  }
  if (!written->indexed.unchanged) bump(col.name);
  co_return written->indexed;
}

boost::asio::awaitable<void> Store::update_index(CollectionRow col, Vectors add, std::vector<std::int64_t> remove) {
  // The index is opened (loaded or built from storage) if it is not yet: a collection's indexes
  // stay current from its first write on. Adding what a fresh build already holds is a no-op.
  auto fn = [this, col, add = std::move(add), remove = std::move(remove)](Connection& c) -> core::Result<bool> {
    auto index = open_index(c, col);
    if (!index) return std::move(index).error();
    (*index)->remove(remove);
    for (const auto& [id, v] : add) {
      if (v.size() == (*index)->dim()) (*index)->add(id, v.data());
    }
    return true;
  };
  auto r = co_await db_.run(std::move(fn));
  if (!r) core::log::warn("vector index not updated", {{"collection", col.id}, {"error", r.error().message}});
}

boost::asio::awaitable<void> Store::update_keyword(std::string collection_id, std::vector<Bm25Doc> add,
                                                   std::vector<std::int64_t> remove) {
  auto fn = [this, collection_id, add = std::move(add), remove = std::move(remove)](Connection& c) -> core::Result<bool> {
    auto index = open_keyword(c, collection_id);
    if (!index) return std::move(index).error();
    (*index)->remove(remove);
    for (const auto& d : add) (*index)->add(d);
    return true;
  };
  auto r = co_await db_.run(std::move(fn));
  if (!r) core::log::warn("keyword index not updated", {{"collection", collection_id}, {"error", r.error().message}});
}

core::Result<std::shared_ptr<Bm25Index>> Store::open_keyword(Connection& c, const std::string& collection_id) {
  auto source = [&c, &collection_id]() -> core::Result<std::vector<Bm25Doc>> {
    auto rows = KnowledgeRepository::live_chunk_texts(c, collection_id);
    if (!rows) return std::move(rows).error();
    std::vector<Bm25Doc> docs;
    docs.reserve(rows->size());
    for (auto& r : *rows) docs.push_back(Bm25Doc{r.id, std::move(r.title), std::move(r.heading), std::move(r.text)});
    return docs;
  };
  return keyword_.get(collection_id, source);
}

core::Result<std::shared_ptr<VectorIndex>> Store::open_index(Connection& c, const CollectionRow& col) {
  const std::string key = col.embedding_key();
  auto live = [&c, &col] { return KnowledgeRepository::live_chunk_ids(c, col.id); };
  auto source = [&c, &col, &key](const std::vector<std::int64_t>* ids) {
    return KnowledgeRepository::live_vectors(c, col.id, key, ids);
  };
  return vectors_.get(col.id, static_cast<std::size_t>(col.dimension.value_or(0)), live, source, key);
}

Task<DocumentView> Store::get_document(std::string id, bool include_text) {
  auto fn = [id = std::move(id), include_text](Connection& c) { return view(c, id, include_text); };
  co_return co_await db_.run(std::move(fn));
}

Task<DocumentView> Store::get_document_by_external_id(std::string collection, std::string external_id,
                                                      bool include_text) {
  auto fn = [collection = std::move(collection), external_id = std::move(external_id),
             include_text](Connection& c) -> core::Result<DocumentView> {
    auto col = find(c, collection);
    if (!col) return std::move(col).error();
    auto ref = KnowledgeRepository::find_by_external_id(c, col->id, external_id);
    if (!ref) return std::move(ref).error();
    if (!*ref) {
      return Error(ErrorKind::not_found,
                   "no document with external_id '" + external_id + "' in collection '" + col->name + "'");
    }
    return view(c, (*ref)->id, include_text);
  };
  co_return co_await db_.run(std::move(fn));
}

Task<std::vector<storage::VersionRow>> Store::versions(std::string id) {
  auto fn = [id = std::move(id)](Connection& c) -> core::Result<std::vector<storage::VersionRow>> {
    auto doc = KnowledgeRepository::get_document(c, id);
    if (!doc) return std::move(doc).error();
    if (!*doc) return no_document(id);
    return KnowledgeRepository::versions(c, id);
  };
  co_return co_await db_.run(std::move(fn));
}

Task<DocumentPage> Store::list_documents(std::string collection, storage::PageRequest page,
                                         std::optional<std::string> tag) {
  auto fn = [collection = std::move(collection), page = std::move(page),
             tag = std::move(tag)](Connection& c) -> core::Result<DocumentPage> {
    auto col = find(c, collection);
    if (!col) return std::move(col).error();
    return KnowledgeRepository::list_documents(c, col->id, page, tag);
  };
  co_return co_await db_.run(std::move(fn));
}

Task<DocumentView> Store::delete_document(std::string id) {
  co_return co_await set_deleted(std::move(id), true);
}

Task<DocumentView> Store::restore_document(std::string id) {
  co_return co_await set_deleted(std::move(id), false);
}

Task<DocumentView> Store::set_deleted(std::string id, bool deleted) {
  struct Changed {
    DocumentView view;
    CollectionRow collection;
    std::vector<std::int64_t> chunks;
  };
  auto fn = [id = std::move(id), deleted, now = clock_.now_ms()](Connection& c) -> core::Result<Changed> {
    auto done = deleted ? KnowledgeRepository::soft_delete(c, id, now) : KnowledgeRepository::restore(c, id, now);
    if (!done) return std::move(done).error();
    auto v = view(c, id, false);
    if (!v) return std::move(v).error();
    if (!*done) {
      return Error(ErrorKind::conflict, "document " + id + (deleted ? " is already deleted" : " is not deleted"));
    }
    auto col = find(c, v->row.collection);
    if (!col) return std::move(col).error();
    auto chunks = KnowledgeRepository::chunk_ids(c, id, v->row.version);
    if (!chunks) return std::move(chunks).error();
    return Changed{std::move(*v), std::move(*col), std::move(*chunks)};
  };
  auto r = co_await db_.write(std::move(fn));
  if (!r) co_return std::move(r).error();
  if (keyword_.find(r->collection.id)) {
    std::string collection_id = r->collection.id;
    if (deleted) {
      std::vector<Bm25Doc> none;
      std::vector<std::int64_t> ids = r->chunks;
      co_await update_keyword(std::move(collection_id), std::move(none), std::move(ids));
    } else {
      auto load = [id = r->collection.id, ids = r->chunks](Connection& c) {
        return KnowledgeRepository::live_chunk_texts(c, id, &ids);
      };
      auto texts = co_await db_.run(std::move(load));
      if (texts) {
        std::vector<Bm25Doc> docs;
        for (auto& t : *texts) docs.push_back(Bm25Doc{t.id, std::move(t.title), std::move(t.heading), std::move(t.text)});
        std::vector<std::int64_t> none;
        co_await update_keyword(std::move(collection_id), std::move(docs), std::move(none));
      }
    }
  }
  if (r->collection.embedding_model && vectors_.find(r->collection.id)) {
    CollectionRow target = r->collection;
    if (deleted) {
      Vectors none;
      co_await update_index(std::move(target), std::move(none), std::move(r->chunks));
    } else {
      // Restored: its vectors come back from storage.
      auto load = [col = r->collection, ids = std::move(r->chunks)](Connection& c) {
        return KnowledgeRepository::live_vectors(c, col.id, col.embedding_key(), &ids);
      };
      auto vectors = co_await db_.run(std::move(load));
      std::vector<std::int64_t> none;
      if (vectors) co_await update_index(std::move(target), std::move(*vectors), std::move(none));
    }
  }
  bump(r->collection.name);
  co_return std::move(r->view);
}

}  // namespace sb::knowledge
