#include "app/publish_endpoint.hpp"

#include <chrono>
#include <string>
#include <utility>

#include <caf/all.hpp>

#include "actors/errors.hpp"
#include "actors/messages.hpp"
#include "actors/session/messages.hpp"
#include "protocol/codec.hpp"
#include "protocol/msgpack_codec.hpp"

namespace wsvisor {

caf::behavior api_publish(caf::event_based_actor* self, net::publish_request req,
                          net::publish_reply reply, node_metrics_ptr metrics) {
  auto broker = caf::actor_cast<caf::actor>(self->home_system().registry().get(broker_name));
  if (!broker) {
    reply(net::publish_outcome{.error = "unavailable",
                               .message = "the session registry is restarting"});
    self->quit();
    return {};
  }
  auto body = req.data_msgpack.empty()
                  ? proto::encode_message_body(req.channel, req.data_json)
                  : proto::encode_message_body_msgpack(req.channel, req.data_msgpack);
  self->request(broker, std::chrono::seconds{5}, broker_publish_atom::value, req.channel, body)
      .then(
          [self, reply, metrics](std::uint64_t sessions, std::string& upstream) {
            metrics->received_api.inc();
            reply(net::publish_outcome{.sessions = sessions, .upstream = std::move(upstream)});
            self->quit();
          },
          [self, reply](caf::error& err) {
            net::publish_outcome out;
            if (err == errc::upstream_down) {
              out.error = "upstream_down";
              out.message = context_of(err);  // names the upstream or the channel
            } else {
              out.error = err == caf::sec::request_timeout ? "timeout" : "unavailable";
              out.message = describe(self->home_system(), err);
            }
            reply(std::move(out));
            self->quit();
          });
  return {};
}

}  // namespace wsvisor
