#include "actors/cluster/peer_link.hpp"

#include <set>
#include <string>
#include <utility>
#include <vector>

#include <caf/actor_cast.hpp>
#include <caf/actor_registry.hpp>
#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/io/middleman.hpp>
#include <caf/io/middleman_actor.hpp>
#include <caf/node_id.hpp>
#include <caf/system_messages.hpp>

#include "actors/cluster/messages.hpp"
#include "actors/errors.hpp"
#include "actors/messages.hpp"
#include "config/checks.hpp"

namespace wsvisor {

namespace {

caf::behavior peer_link(caf::event_based_actor* self, peer_link_args a) {
  auto fail = [self, address = a.address](const std::string& step, const caf::error& err) {
    self->quit(make_error(errc::peer_failed,
                          step + " " + address + ": " + describe(self->home_system(), err)));
  };
  auto peer = parse_host_port(a.address);
  if (!peer || peer->port == 0) {
    self->quit(make_error(errc::peer_failed, "bad address " + a.address));
    return {};
  }
  auto mm = self->home_system().middleman().actor_handle();
  self->request(mm, a.timeout, caf::connect_atom::value, peer->host, peer->port)
      .then(
          [self, a, fail](const caf::node_id&, caf::strong_actor_ptr& contact,
                          const std::set<std::string>&) {
            if (!contact)
              return self->quit(make_error(errc::peer_failed, "nothing published at " + a.address));
            self->request(caf::actor_cast<caf::actor>(contact), a.timeout,
                          cluster_hello_atom::value)
                .then(
                    [self, a, fail](caf::actor& remote) {
                      // The remote cluster actor is monitored first, so that a
                      // peer lost during the join still ends this link.
                      self->monitor(remote);
                      self->request(a.cluster, caf::infinite, cluster_link_atom::value, remote,
                                    a.address)
                          .then([](const std::string&) {},
                                [fail](caf::error& err) { fail("join", err); });
                    },
                    [fail](caf::error& err) { fail("hello", err); });
          },
          [fail](caf::error& err) { fail("connect", err); });
  self->set_down_handler([self, address = a.address](caf::down_msg& msg) {
    self->quit(make_error(errc::peer_failed, "peer " + address + " lost: " +
                                                 describe(self->home_system(), msg.reason)));
  });
  // A behaviour that is never empty keeps the link alive after its requests
  // are answered; it lives until the peer's down_msg or an exit signal.
  return {
      [address = a.address](cluster_members_atom) { return std::vector<std::string>{address}; },
  };
}

caf::behavior contact_behavior(caf::event_based_actor* self, int /*unused*/) {
  return {
      [self](cluster_hello_atom) -> caf::result<caf::actor> {
        auto cluster = self->home_system().registry().get<caf::actor>(cluster_name);
        if (!cluster) return make_error(errc::peer_failed, "the cluster actor is restarting");
        return cluster;
      },
  };
}

}  // namespace

caf::actor spawn_peer_link(caf::actor_system& sys, peer_link_args args) {
  return sys.spawn(peer_link, std::move(args));
}

caf::actor spawn_cluster_contact(caf::actor_system& sys) {
  // A dummy argument: CAF 0.17 cannot spawn an argument-less function actor.
  return sys.spawn(contact_behavior, 0);
}

}  // namespace wsvisor
