/*
 * fh_counters: the one table of what a worker counts. Each line names a counter or a drop
 * reason and says what it counts; from it come the enums the dataplane counts with, the
 * arrays struct fh_counters (fh_region.h) lays out in the ring region, and every series and
 * HELP line funkhaus-cp exports at /metrics. A new counter is one line here and nothing else.
 *
 * Names are Prometheus name fragments (lower case, digits, '_'); help texts are one line
 * without '\', '"' or a newline, so they go into HELP lines and label values as they are.
 * tests/unit/test_region.c checks both. No dependency on DPDK: pure modules (dp_net) and
 * the fuzzers name their drop reasons from here too.
 */
#ifndef FH_COUNTERS_H
#define FH_COUNTERS_H

#include <stdint.h>

/* Counted events; funkhaus_worker_<name>_total at /metrics. */
#define FH_FOREACH_COUNTER(_)                                                           \
	_(rx_packets, "UDP datagrams received")                                         \
	_(rx_bytes, "UDP payload bytes received")                                       \
	_(tx_packets, "UDP datagrams sent")                                             \
	_(tx_bytes, "UDP payload bytes sent")                                           \
	_(stun_answered, "STUN Binding requests answered")                              \
	_(dtls_up, "DTLS records passed to the control plane")                          \
	_(dtls_down, "DTLS records sent for the control plane")                         \
	_(rtp_in, "SRTP packets decrypted")                                             \
	_(rtp_forwarded, "RTP packets encrypted and sent to a receiver")                \
	_(rtcp_in, "SRTCP packets decrypted")                                           \
	_(rtcp_out, "SRTCP packets sent")                                               \
	_(rtx_sent, "retransmissions answered from the packet cache")                   \
	_(pli_sent, "key frame requests sent to publishers")                            \
	_(consent_lost, "bindings removed after the consent timeout")                   \
	_(arp_answered, "ARP requests for the media address answered")                  \
	_(nd_answered, "neighbour solicitations for the media address answered")        \
	_(echo_answered, "ICMP/ICMPv6 echo requests answered")                          \
	_(neigh_solicited, "ARP requests / solicitations sent for a next hop")          \
	_(handoff, "datagrams passed to the worker that owns their UDP port")           \
	_(commands, "commands applied")                                                 \
	_(layer_switches, "simulcast layer switches made for a receiver")               \
	_(speaker_events, "dominant speaker and speaking set changes raised")           \
	_(speaker_untracked, "participants whose audio levels no room tracks (full)")   \
	_(keyframe_absorbed, "receiver key frame requests answered without the sender") \
	_(twcc_fb_sent, "transport-wide feedback packets sent to publishers")           \
	_(twcc_fb_in, "transport-wide feedback packets from receivers used")            \
	_(probe_sent, "padding packets sent to probe a receiver link")                  \
	_(bwe_delay_decrease, "receiver estimates lowered for a growing queue")         \
	_(bwe_loss_decrease, "receiver estimates lowered for loss")                     \
	_(bwe_late, "packets a receiver reported missing, then received (no loss)")     \
	_(ssrc_learned, "simulcast SSRCs learned from the mid and rid extensions")

/* Why a datagram, frame or command was not used; funkhaus_worker_drops_total{reason=<name>}.
 * Every drop has exactly one reason, so the reasons add up to what was dropped. */
#define FH_FOREACH_DROP(_)                                                                      \
	_(not_webrtc, "first byte outside the RFC 7983 ranges")                                 \
	_(truncated, "datagram longer than a packet buffer, cut by the socket")                 \
	_(source_family, "datagram from an address that is neither IPv4 nor IPv6")              \
	_(stun_malformed, "STUN that does not parse")                                           \
	_(stun_not_request, "STUN other than a Binding request or indication")                  \
	_(stun_bad_fingerprint, "STUN without a valid FINGERPRINT")                             \
	_(stun_unknown_user, "STUN USERNAME that matches no participant")                       \
	_(stun_bad_integrity, "STUN MESSAGE-INTEGRITY that does not check")                     \
	_(stun_role_conflict, "STUN from a peer that also claims to be controlled")             \
	_(dtls_unbound, "DTLS from an address without a valid check")                           \
	_(dtls_malformed, "DTLS record too short or too long")                                  \
	_(up_ring_full, "control packet with no room in the ring to cp")                        \
	_(media_unbound, "RTP/RTCP from an address without a valid check")                      \
	_(media_no_keys, "RTP/RTCP before the DTLS handshake finished")                         \
	_(rtp_malformed, "RTP header that does not parse")                                      \
	_(rtcp_malformed, "RTCP compound that does not parse")                                  \
	_(srtp_auth_fail, "SRTP that fails authentication")                                     \
	_(srtp_replay, "SRTP replayed or too old")                                              \
	_(srtcp_auth_fail, "SRTCP that fails authentication or replay check")                   \
	_(srtp_engine_fail, "SRTP/SRTCP the engine could not process (stream, device)")         \
	_(rtp_unknown_ssrc, "RTP whose SSRC the participant did not announce")                  \
	_(rtx_in, "retransmissions and padding from publishers, not forwarded")                 \
	_(muted, "RTP of a stream a moderator muted")                                           \
	_(receiver_not_ready, "copy skipped: receiver has no address or keys yet")              \
	_(srtp_protect_fail, "outbound packet that could not be encrypted")                     \
	_(srtp_unsupported, "SRTP the engine cannot take (header too long, E=0)")               \
	_(no_mbuf, "no packet buffer for a copy")                                               \
	_(tx_fail, "datagram the socket did not take")                                          \
	_(down_unbound, "DTLS record from cp for a participant with no address")                \
	_(cmd_invalid, "command with a bad slot or arguments")                                  \
	_(nack_miss, "NACKed packet no longer in the cache")                                    \
	_(l2_runt, "frame shorter than its headers")                                            \
	_(l2_multi_segment, "frame in a chain of packet buffers (jumbo)")                       \
	_(l2_not_for_us, "frame or packet for another MAC or IP address")                       \
	_(l2_ethertype, "frame that is neither ARP, IPv4 nor IPv6")                             \
	_(ip_malformed, "IP header with bad version, lengths or checksum")                      \
	_(ip_fragment, "IP fragment (media never needs them)")                                  \
	_(udp_malformed, "UDP with a bad length or checksum")                                   \
	_(udp_port, "UDP to a port that is not a worker's")                                     \
	_(ip_other, "other IP protocols and ICMP types")                                        \
	_(bad_source, "from a group MAC, broadcast, multicast or own address, or port 0")       \
	_(no_route, "datagram to an address with no route (no gateway set)")                    \
	_(no_neighbour, "datagram whose next hop is not resolved yet")                          \
	_(handoff_full, "datagram for another worker whose hand-off ring is full")              \
	_(ext_malformed, "RTP header extension block that does not parse (packet kept)")        \
	_(rid_unknown, "RTP with a rid the offer never named")                                  \
	_(temporal_layer, "copy not made: temporal layer above what the receiver gets")         \
	_(rtx_budget, "NACK not answered: the receiver retransmission budget is spent")         \
	_(twcc_unexpected, "transport-wide feedback from a receiver that did not negotiate it") \
	_(twcc_malformed, "transport-wide feedback that does not parse")                        \
	_(twcc_unknown, "transport-wide feedback naming packets never sent or long gone")

/* Per NIC port (DPDK backend), copied from the port's statistics by funkhaus-dp's main thread;
 * funkhaus_port_<name>_total{port=<device>} at /metrics. */
#define FH_FOREACH_PORT_COUNTER(_)                                         \
	_(rx_packets, "frames the NIC received")                           \
	_(tx_packets, "frames the NIC sent")                               \
	_(rx_bytes, "bytes the NIC received")                              \
	_(tx_bytes, "bytes the NIC sent")                                  \
	_(rx_missed, "frames the NIC dropped: no free receive descriptor") \
	_(rx_errors, "frames the NIC received with errors")                \
	_(tx_errors, "frames the NIC failed to send")                      \
	_(rx_no_mbuf, "frames the NIC could not deliver: no packet buffer for them")

/* Where a worker's busy cycles go, per burst: receiving, demultiplexing and address lookup,
 * SRTP decryption, media handling (copies, rewrite, RTCP), SRTP encryption, sending. */
#define FH_FOREACH_STAGE(_) _(rx) _(classify) _(decrypt) _(media) _(encrypt) _(tx)

/* Receivers' bandwidth estimates, sampled twice a second per receiver into these buckets
 * (upper bounds, bit/s; the last is everything above); funkhaus_worker_receiver_estimate_bps
 * histogram at /metrics. */
#define FH_EST_BUCKETS 8
extern const uint32_t fh_est_bucket_bps[FH_EST_BUCKETS - 1];

#define FH_CTR_ENUM(n, d) FH_CTR_##n,
#define FH_DROP_ENUM(n, d) FH_DROP_##n,
#define FH_STAGE_ENUM(n) FH_STAGE_##n,
#define FH_PORT_CTR_ENUM(n, d) FH_PORT_CTR_##n,
enum fh_ctr { FH_FOREACH_COUNTER(FH_CTR_ENUM) FH_CTR_MAX };
enum fh_drop { FH_FOREACH_DROP(FH_DROP_ENUM) FH_DROP_MAX };
enum fh_stage { FH_FOREACH_STAGE(FH_STAGE_ENUM) FH_STAGE_MAX };
enum fh_port_ctr { FH_FOREACH_PORT_COUNTER(FH_PORT_CTR_ENUM) FH_PORT_CTR_MAX };

extern const char *const fh_ctr_names[FH_CTR_MAX];
extern const char *const fh_ctr_help[FH_CTR_MAX];
extern const char *const fh_drop_names[FH_DROP_MAX];
extern const char *const fh_drop_help[FH_DROP_MAX];
extern const char *const fh_stage_names[FH_STAGE_MAX];
extern const char *const fh_port_ctr_names[FH_PORT_CTR_MAX];
extern const char *const fh_port_ctr_help[FH_PORT_CTR_MAX];

/*
 * A hash of every name above, in order. funkhaus-dp writes it into the region and funkhaus-cp
 * refuses a region whose table differs from its own, so a line added, removed or moved here
 * can never make one daemon read another's counters under the wrong names, even where the
 * change leaves the region's size as it was.
 */
uint32_t fh_counters_table_hash(void);

#endif
