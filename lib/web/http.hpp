// HTTP for the operations console (m2m-server serve --http): GNU libmicrohttpd driven from the
// server's own epoll loop. MHD runs in its "external epoll" mode: it keeps an epoll descriptor
// of its own (fd()), the server's loop watches that one descriptor, and run() is called when it
// is readable and on every tick — so every callback, like every router call, happens on the
// loop's one thread, and no lock guards the router (docs/ARCHITECTURE.md, "the console").
//
// Why libmicrohttpd: it is in Debian (libmicrohttpd-dev), it is the one mature C HTTP server
// that can be driven from somebody else's event loop (cpp-httplib, Crow and Boost.Beast's
// examples want threads or an io_context of their own), it parses requests defensively (header
// and body limits, timeouts, per-address connection caps), and it can park a request
// (suspend/resume) while the answer is under way: a device's reply, a password check on the
// worker thread, the next event of a stream.
//
// A request is an Exchange. The handler answers it at once (respond) or later, from the loop's
// thread (the connection is suspended meanwhile), or turns it into a stream of server-sent
// events (stream/push). An Exchange outlives its connection safely: once the client has gone,
// respond and push do nothing.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_set>
#include <utility>
#include <vector>

#include "core/error.hpp"
#include "net/endpoint.hpp"

struct MHD_Daemon;
struct MHD_Connection;

namespace m2m::web {

struct HttpResponse {
  unsigned status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string_view persistent;  // a body that outlives the server (an embedded file): not copied
};

class Http;
struct HttpCallbacks;  // http.cpp: MHD's callbacks

class Exchange : public std::enable_shared_from_this<Exchange> {
 public:
  const std::string& method() const { return method_; }
  const std::string& path() const { return path_; }  // without the query
  const std::string& body() const { return body_; }
  const net::Address& peer() const { return peer_; }
  std::string header(const char* name) const;  // "" when absent
  std::string cookie(const char* name) const;
  std::string query(const char* name) const;
  bool gone() const { return gone_; }

  // The answer (once). Later than the handler call: from the loop's thread only.
  void respond(HttpResponse r);
  // Turns the request into a text/event-stream; push() sends ("data: …\n\n" is the caller's
  // framing). A stream whose reader falls more than 256 KiB behind is ended.
  void stream();
  void push(std::string_view text);
  void end_stream();
  bool streaming() const { return streaming_; }

 private:
  friend class Http;
  friend struct HttpCallbacks;
  Http* http_ = nullptr;
  MHD_Connection* conn_ = nullptr;
  std::string method_, path_, body_;
  net::Address peer_;
  bool answered_ = false, suspended_ = false, gone_ = false, handled_ = false;
  bool streaming_ = false, stream_ended_ = false;
  std::string out_;  // stream bytes not yet taken by MHD
  void resume();
};

struct HttpLimits {
  std::size_t max_body = 16u << 20;  // an upload (an .xlsx of devices) — bigger bodies get 413
  unsigned max_connections = 256;
  unsigned max_per_address = 32;
  unsigned idle_timeout_s = 60;
};

class Http {
 public:
  using Handler = std::function<void(const std::shared_ptr<Exchange>&)>;
  static Result<std::unique_ptr<Http>> start(const net::Address& at, Handler handler, HttpLimits limits = {});
  ~Http();
  Http(const Http&) = delete;
  Http& operator=(const Http&) = delete;

  int fd() const { return epoll_fd_; }  // readable: call run()
  void run();                           // MHD's work, never blocking; also on every tick
  const net::Address& bound() const { return bound_; }
  // Ends every open exchange (503 for unanswered ones, streams closed) and stops.
  void stop();

 private:
  friend class Exchange;
  friend struct HttpCallbacks;
  Http() = default;
  void queue(Exchange& ex, HttpResponse r);
  void queue_stream(Exchange& ex);
  void too_large(Exchange& ex);

  MHD_Daemon* daemon_ = nullptr;
  int epoll_fd_ = -1;
  net::Address bound_;
  Handler handler_;
  HttpLimits limits_;
  int depth_ = 0;          // inside run(): resumes wait for its end
  bool again_ = false;
  std::unordered_set<Exchange*> open_;  // exchanges whose connection is alive
};

}  // namespace m2m::web
