// ws_session over wss:// (net/ws_session_impl.hpp says why on its own).
#include "net/ws_session_impl.hpp"

namespace wsvisor::net {

template class ws_session<tls_tcp_stream>;

}  // namespace wsvisor::net
