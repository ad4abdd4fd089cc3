#include "web/http.hpp"

#include <microhttpd.h>

#include <cstdlib>
#include <cstring>

#include "core/expected.hpp"
#include "net/socket.hpp"

namespace m2m::web {

namespace {
constexpr std::size_t kMaxStreamBacklog = 256 * 1024;

// Headers every answer carries: the console is same-origin only, never framed, never sniffed.
void secure_headers(MHD_Response* r, bool no_store) {
  MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
  MHD_add_response_header(r, "X-Frame-Options", "DENY");
  MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
  MHD_add_response_header(r, "Content-Security-Policy",
                          "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
                          "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'");
  if (no_store) MHD_add_response_header(r, "Cache-Control", "no-store");
}

// The shared owner MHD keeps for a connection (con_cls) and for a stream's reader.
using Holder = std::shared_ptr<Exchange>;
}  // namespace

struct HttpCallbacks {
  static MHD_Result request(void* cls, MHD_Connection* c, const char* url, const char* method, const char*,
                            const char* upload, std::size_t* upload_size, void** con_cls) {
    auto* http = static_cast<Http*>(cls);
    if (!*con_cls) {  // the headers are in: the body (if any) follows in later calls
      auto ex = std::make_shared<Exchange>();
      ex->http_ = http;
      ex->conn_ = c;
      ex->method_ = method ? method : "";
      ex->path_ = url ? url : "/";
      if (const auto* info = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS); info && info->client_addr)
        ex->peer_ = net::Address::from(info->client_addr, info->client_addr->sa_family == AF_INET6
                                                              ? sizeof(sockaddr_in6)
                                                              : sizeof(sockaddr_in));
      Exchange& e = *ex;
      http->open_.insert(ex.get());
      *con_cls = new Holder(std::move(ex));
      // A body announced larger than the limit is refused before it is read.
      const char* length = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
      if (length && std::strtoull(length, nullptr, 10) > http->limits_.max_body) http->too_large(e);
      return MHD_YES;
    }
    Exchange& ex = **static_cast<Holder*>(*con_cls);
    if (*upload_size) {
      if (!ex.answered_ && ex.body_.size() + *upload_size > http->limits_.max_body)
        http->too_large(ex);  // a chunked body that grew past the limit: answered now, the rest is not read
      else if (!ex.answered_)
        ex.body_.append(upload, *upload_size);
      *upload_size = 0;
      return MHD_YES;
    }
    if (ex.handled_ || ex.answered_) return MHD_YES;  // resumed, or refused: the answer is queued already
    ex.handled_ = true;
    Holder keep = ex.shared_from_this();
    http->handler_(keep);
    if (ex.streaming_) {
      http->queue_stream(ex);
    } else if (!ex.answered_) {
      MHD_suspend_connection(c);  // answered later (Exchange::respond resumes it)
      ex.suspended_ = true;
    }
    return MHD_YES;
  }

  static void completed(void* cls, MHD_Connection*, void** con_cls, MHD_RequestTerminationCode) {
    auto* http = static_cast<Http*>(cls);
    auto* holder = static_cast<Holder*>(*con_cls);
    if (!holder) return;
    (*holder)->gone_ = true;
    http->open_.erase(holder->get());
    delete holder;
    *con_cls = nullptr;
  }

  static ssize_t read_stream(void* cls, std::uint64_t, char* buf, std::size_t max) {
    Exchange& ex = **static_cast<Holder*>(cls);
    if (ex.gone_) return MHD_CONTENT_READER_END_WITH_ERROR;
    if (!ex.out_.empty()) {
      const std::size_t n = std::min(max, ex.out_.size());
      std::memcpy(buf, ex.out_.data(), n);
      ex.out_.erase(0, n);
      return static_cast<ssize_t>(n);
    }
    if (ex.stream_ended_) return MHD_CONTENT_READER_END_OF_STREAM;
    MHD_suspend_connection(ex.conn_);  // until the next push (microhttpd.h: return 0 only so)
    ex.suspended_ = true;
    return 0;
  }

  static void free_stream(void* cls) { delete static_cast<Holder*>(cls); }
};

std::string Exchange::header(const char* name) const {
  if (gone_) return {};
  const char* v = MHD_lookup_connection_value(conn_, MHD_HEADER_KIND, name);
  return v ? v : "";
}
std::string Exchange::cookie(const char* name) const {
  if (gone_) return {};
  const char* v = MHD_lookup_connection_value(conn_, MHD_COOKIE_KIND, name);
  return v ? v : "";
}
std::string Exchange::query(const char* name) const {
  if (gone_) return {};
  const char* v = MHD_lookup_connection_value(conn_, MHD_GET_ARGUMENT_KIND, name);
  return v ? v : "";
}

void Exchange::respond(HttpResponse r) {
  if (answered_ || gone_ || streaming_) return;
  http_->queue(*this, std::move(r));
  resume();
}

void Exchange::stream() {
  if (!answered_) streaming_ = true;
}

void Exchange::push(std::string_view text) {
  if (!streaming_ || gone_ || stream_ended_) return;
  if (out_.size() + text.size() > kMaxStreamBacklog) {  // a reader that does not read
    end_stream();
    return;
  }
  out_.append(text);
  resume();
}

void Exchange::end_stream() {
  if (!streaming_ || stream_ended_) return;
  stream_ended_ = true;
  resume();
}

void Exchange::resume() {
  if (!suspended_ || gone_) return;
  suspended_ = false;
  MHD_resume_connection(conn_);
  // microhttpd.h: in external mode, run MHD after a resume (not from inside its own run).
  if (http_->depth_)
    http_->again_ = true;
  else
    http_->run();
}

void Http::too_large(Exchange& ex) {
  HttpResponse r;
  r.status = 413;
  r.body = R"j({"error":"too_large","message":"the request body is larger than the server accepts (16 MiB)"})j";
  r.headers.emplace_back("Connection", "close");
  queue(ex, std::move(r));
}

void Http::queue(Exchange& ex, HttpResponse r) {
  ex.answered_ = true;
  MHD_Response* resp =
      r.persistent.data()
          ? MHD_create_response_from_buffer(r.persistent.size(), const_cast<char*>(r.persistent.data()),
                                            MHD_RESPMEM_PERSISTENT)
          : MHD_create_response_from_buffer(r.body.size(), r.body.data(), MHD_RESPMEM_MUST_COPY);
  if (!resp) return;
  MHD_add_response_header(resp, "Content-Type", r.content_type.c_str());
  bool no_store = r.persistent.data() == nullptr;
  for (const auto& [k, v] : r.headers) {
    if (k == "Cache-Control") no_store = false;
    MHD_add_response_header(resp, k.c_str(), v.c_str());
  }
  secure_headers(resp, no_store);
  MHD_queue_response(ex.conn_, r.status, resp);
  MHD_destroy_response(resp);
}

void Http::queue_stream(Exchange& ex) {
  ex.answered_ = true;
  MHD_Response* resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, &HttpCallbacks::read_stream,
                                                         new Holder(ex.shared_from_this()),
                                                         &HttpCallbacks::free_stream);
  if (!resp) return;
  MHD_add_response_header(resp, "Content-Type", "text/event-stream");
  MHD_add_response_header(resp, "X-Accel-Buffering", "no");
  MHD_add_response_header(resp, "Connection", "close");  // the stream's end is the connection's
  secure_headers(resp, true);
  MHD_queue_response(ex.conn_, 200, resp);
  MHD_destroy_response(resp);
}

Result<std::unique_ptr<Http>> Http::start(const net::Address& at, Handler handler, HttpLimits limits) {
  auto sock = net::listen_tcp(at, false, 128);
  if (!sock) return unexpected(sock.error());
  auto bound = net::local_address(sock->get());
  if (!bound) return unexpected(bound.error());
  std::unique_ptr<Http> h(new Http());
  h->handler_ = std::move(handler);
  h->limits_ = limits;
  h->bound_ = *bound;
  unsigned flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME;
  if (at.family() == AF_INET6) flags |= MHD_USE_IPv6;
  const int fd = sock->release();  // MHD owns and closes it
  h->daemon_ = MHD_start_daemon(
      flags, 0, nullptr, nullptr, reinterpret_cast<MHD_AccessHandlerCallback>(&HttpCallbacks::request), h.get(),
      MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_CONNECTION_LIMIT, limits.max_connections,
      MHD_OPTION_PER_IP_CONNECTION_LIMIT, limits.max_per_address, MHD_OPTION_CONNECTION_TIMEOUT,
      limits.idle_timeout_s, MHD_OPTION_CONNECTION_MEMORY_LIMIT, static_cast<std::size_t>(64 * 1024),
      MHD_OPTION_NOTIFY_COMPLETED, &HttpCallbacks::completed, h.get(), MHD_OPTION_END);
  if (!h->daemon_) {
    ::close(fd);
    return unexpected(Error{ErrorKind::io, 0, "the HTTP server could not start on " + net::format_address(at)});
  }
  const MHD_DaemonInfo* info = MHD_get_daemon_info(h->daemon_, MHD_DAEMON_INFO_EPOLL_FD);
  if (!info) return unexpected(Error{ErrorKind::io, 0, "libmicrohttpd was built without epoll"});
  h->epoll_fd_ = info->epoll_fd;
  return h;
}

void Http::run() {
  if (!daemon_) return;
  ++depth_;
  // MHD's own epoll is edge-triggered: a connection with more bytes waiting than one pass
  // reads (an upload) does not make fd() readable again. MHD_get_timeout says 0 while it has
  // such work; run until it has none (bounded: other sockets wait meanwhile).
  for (int pass = 0; pass < 1024; ++pass) {
    again_ = false;
    MHD_run(daemon_);
    MHD_UNSIGNED_LONG_LONG wait = 1;
    if (!again_ && (MHD_get_timeout(daemon_, &wait) != MHD_YES || wait != 0)) break;
  }
  --depth_;
}

void Http::stop() {
  if (!daemon_) return;
  // microhttpd.h: no suspended connection may remain when the daemon stops.
  std::vector<Exchange*> open(open_.begin(), open_.end());
  for (Exchange* ex : open) {
    Holder keep = ex->shared_from_this();
    if (ex->streaming_) {
      ex->end_stream();
    } else if (!ex->answered_ && ex->handled_) {
      HttpResponse r;
      r.status = 503;
      r.body = R"({"error":"shutdown","message":"the server is stopping"})";
      ex->respond(std::move(r));
    }
    if (ex->suspended_) {
      ex->suspended_ = false;
      MHD_resume_connection(ex->conn_);
    }
  }
  run();
  MHD_stop_daemon(daemon_);
  daemon_ = nullptr;
}

Http::~Http() { stop(); }

}  // namespace m2m::web
