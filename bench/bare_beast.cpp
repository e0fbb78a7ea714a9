// The yardstick of bench/http.sh: a bare asynchronous Boost.Beast server in the shape of Beast's
// example/http/server/async (one io_context, N threads, a strand per connection, keep-alive),
// answering every request with the body seke's /health sends. No routing, no limits, no log:
// what seke serve is measured against on the same machine in the same run.
//
//   seke-bench-bare-beast PORT THREADS
#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

const std::string kBody = R"({"status":"UP","model_class":"SekeFaceEmotion"})";

class Session : public std::enable_shared_from_this<Session> {
  public:
    explicit Session(tcp::socket socket) : stream_(std::move(socket)) {}

    void start() {
        net::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->read(); });
    }

  private:
    void read() {
        request_ = {};
        stream_.expires_after(std::chrono::seconds(30));
        http::async_read(stream_, buffer_, request_, beast::bind_front_handler(&Session::on_read, shared_from_this()));
    }

    void on_read(beast::error_code ec, std::size_t) {
        if (ec) return close();
        response_ = {};
        response_.version(request_.version());
        response_.result(http::status::ok);
        response_.set(http::field::server, "bare-beast");
        response_.set(http::field::content_type, "application/json");
        response_.keep_alive(request_.keep_alive());
        response_.body() = kBody;
        response_.prepare_payload();
        http::async_write(stream_, response_, beast::bind_front_handler(&Session::on_write, shared_from_this()));
    }

    void on_write(beast::error_code ec, std::size_t) {
        if (ec || !response_.keep_alive()) return close();
        read();
    }

    void close() {
        beast::error_code ignored;
        stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    }

    beast::tcp_stream stream_;
    beast::flat_buffer buffer_;
    http::request<http::string_body> request_;
    http::response<http::string_body> response_;
};

class Listener {
  public:
    Listener(net::io_context& io, const tcp::endpoint& endpoint) : io_(io), acceptor_(net::make_strand(io)) {
        acceptor_.open(endpoint.protocol());
        acceptor_.set_option(net::socket_base::reuse_address(true));
        acceptor_.bind(endpoint);
        acceptor_.listen(net::socket_base::max_listen_connections);
    }

    void accept() {
        acceptor_.async_accept(net::make_strand(io_), [this](beast::error_code ec, tcp::socket socket) {
            if (!ec) std::make_shared<Session>(std::move(socket))->start();
            accept();
        });
    }

  private:
    net::io_context& io_;
    tcp::acceptor acceptor_;
};

}  // namespace

int main(int argc, char** argv) {
    if (argc != 3) {
        std::cerr << "usage: seke-bench-bare-beast PORT THREADS\n";
        return 2;
    }
    try {
        auto port = static_cast<unsigned short>(std::atoi(argv[1]));
        int threads = std::max(1, std::atoi(argv[2]));
        net::io_context io(threads);
        Listener listener(io, tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
        listener.accept();
        std::vector<std::thread> pool;
        for (int i = 1; i < threads; ++i) pool.emplace_back([&io] { io.run(); });
        io.run();
        for (auto& thread : pool) thread.join();
    } catch (const std::exception& e) {
        std::cerr << "seke-bench-bare-beast: " << e.what() << "\n";
        return 1;
    }
}
