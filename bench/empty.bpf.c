// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * The streaming agent's hooks with programs that do nothing: what the bare
 * hooks cost the traffic (bench/streaming_rate.sh, the empty-program arm;
 * loaded by bench/bpf_arms.c). Names match bpf/shawk.bpf.c's with "empty"
 * for "shawk", so an arm names the hooks the same way.
 */
/* Only pointers to the contexts: no kernel header needed. */
struct bpf_sock_addr;
struct bpf_sock;

#define SEC(name) __attribute__((section(name), used))

char LICENSE[] SEC("license") = "Dual MIT/GPL";

SEC("tp_btf/inet_sock_set_state")
int empty_tcp_state(void *ctx) { return 0; }

SEC("cgroup/connect4")
int empty_connect4(struct bpf_sock_addr *ctx) { return 1; }

SEC("cgroup/connect6")
int empty_connect6(struct bpf_sock_addr *ctx) { return 1; }

SEC("cgroup/sock_release")
int empty_sock_release(struct bpf_sock *sk) { return 1; }

SEC("cgroup/sendmsg4")
int empty_sendmsg4(struct bpf_sock_addr *ctx) { return 1; }

SEC("cgroup/sendmsg6")
int empty_sendmsg6(struct bpf_sock_addr *ctx) { return 1; }

SEC("cgroup/recvmsg4")
int empty_recvmsg4(struct bpf_sock_addr *ctx) { return 1; }

SEC("cgroup/recvmsg6")
int empty_recvmsg6(struct bpf_sock_addr *ctx) { return 1; }
