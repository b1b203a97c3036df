// SPDX-License-Identifier: MIT
/*
 * The kubelet client and the pod watch against a kubelet-compatible HTTPS
 * server (tests/integration/lib/kubelet_server.py) on loopback, with a
 * throwaway CA made by openssl: TLS verification, bearer token, 401/403,
 * 500, garbage, a slow kubelet, a closed port, and how the pod watch's
 * state and cache follow.
 */
#include "core/clock.h"
#include "k8s/kubelet.h"
#include "k8s/podwatch.h"
#include "k8s/pods.h"
#include "k8s/services.h"

#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include <cmocka.h>

#include "test_util.h"

#define C1 "3f1a9c0d2b7e4f5a8c6d1e0b9a7f3c2d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b"

extern char **environ;

static char dir[256];
static char url[128];
static pid_t server = -1;
static char path_ca[300], path_token[300], path_bad_token[300],
	path_pods[300], path_ctl[300], path_services[300];

static int run(char *const argv[])
{
	pid_t pid;
	int st;
	if (posix_spawnp(&pid, argv[0], NULL, NULL, argv, environ) != 0)
		return -1;
	if (waitpid(pid, &st, 0) < 0)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void put(const char *path, const char *s)
{
	FILE *f = fopen(path, "we");
	assert_non_null(f);
	fputs(s, f);
	fclose(f);
}

static void control(const char *mode)
{
	put(path_ctl, mode);
}

static int setup(void **state)
{
	(void)state;
	char *which[] = { "sh", "-c",
			  "command -v python3 && command -v openssl", NULL };
	if (run(which) != 0) {
		print_message("needs python3 and openssl\n");
		return -1;
	}
	snprintf(dir, sizeof(dir), "/tmp/shawk-kubelet-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	char *certs[] = { "python3", "tests/integration/lib/kubelet_server.py",
			  "certs", dir, NULL };
	if (run(certs) != 0)
		return -1;
	snprintf(path_ca, sizeof(path_ca), "%s/ca.crt", dir);
	snprintf(path_token, sizeof(path_token), "%s/token", dir);
	snprintf(path_bad_token, sizeof(path_bad_token), "%s/bad", dir);
	snprintf(path_pods, sizeof(path_pods), "%s/pods.json", dir);
	snprintf(path_ctl, sizeof(path_ctl), "%s/control", dir);
	snprintf(path_services, sizeof(path_services), "%s/services.json", dir);
	put(path_token, "s3cr3t-token\n");
	put(path_bad_token, "wrong\n");
	size_t len;
	char *pods = fixture_read("kubelet/pods_node_a.json", &len);
	put(path_pods, pods);
	free(pods);
	char *svcs = fixture_read("apiserver/services.json", &len);
	put(path_services, svcs);
	free(svcs);
	control("ok");

	char port_file[300];
	snprintf(port_file, sizeof(port_file), "%s/port", dir);
	char *argv[] = { "python3",
			 "tests/integration/lib/kubelet_server.py",
			 "serve",
			 "--dir",
			 dir,
			 "--token-file",
			 path_token,
			 "--pods",
			 path_pods,
			 "--services",
			 path_services,
			 "--port-file",
			 port_file,
			 "--control",
			 path_ctl,
			 NULL };
	if (posix_spawnp(&server, "python3", NULL, NULL, argv, environ) != 0)
		return -1;
	for (int i = 0; i < 200; i++) {
		FILE *f = fopen(port_file, "re");
		int port = 0;
		if (f) {
			if (fscanf(f, "%d", &port) != 1)
				port = 0;
			fclose(f);
		}
		if (port > 0) {
			snprintf(url, sizeof(url), "https://127.0.0.1:%d", port);
			return 0;
		}
		struct timespec ts = { 0, 50 * 1000000 };
		nanosleep(&ts, NULL);
	}
	return -1;
}

static int teardown(void **state)
{
	(void)state;
	if (server > 0) {
		kill(server, SIGTERM);
		waitpid(server, NULL, 0);
	}
	if (dir[0]) {
		char *rm[] = { "rm", "-rf", dir, NULL };
		run(rm);
	}
	return 0;
}

static struct kubelet_options opts(void)
{
	struct kubelet_options o = {
		.url = url,
		.token_file = path_token,
		.ca_file = path_ca,
		.connect_timeout_ms = 1000,
		.timeout_ms = 3000,
	};
	return o;
}

static int list(const struct kubelet_options *o, size_t *ret_pods)
{
	struct kubelet_client *k = NULL;
	assert_int_equal(kubelet_client_new(o, &k), 0);
	char *body = NULL;
	size_t len = 0;
	int r = kubelet_list_pods(k, &body, &len);
	if (r == 0) {
		struct pod_list *l = NULL;
		int pr = pods_parse(body, len, 0, &l);
		*ret_pods = pr == 0 ? l->n : 0;
		if (pr < 0)
			r = 1; /* "answered, but not a PodList" */
		pod_list_free(l);
		free(body);
	} else {
		assert_true(kubelet_last_error(k)[0] != '\0');
	}
	kubelet_client_free(k);
	return r;
}

static void test_verified_tls(void **state)
{
	(void)state;
	struct kubelet_options o = opts();
	size_t n = 0;
	control("ok");
	assert_int_equal(list(&o, &n), 0);
	assert_int_equal(n, 7);
	/* A trailing slash in the URL is fine. */
	char u2[160];
	snprintf(u2, sizeof(u2), "%s/", url);
	o.url = u2;
	assert_int_equal(list(&o, &n), 0);
}

/* The API server's Services list through the same client code: token,
 * CA, the RBAC it needs named on a 403. */
static void test_list_services(void **state)
{
	(void)state;
	struct kubelet_options o = opts();
	struct kubelet_client *k = NULL;
	char *body = NULL;
	size_t len = 0;
	control("ok");
	assert_int_equal(kubelet_client_new(&o, &k), 0);
	assert_int_equal(kubelet_list_services(k, &body, &len), 0);
	struct service_list *l = NULL;
	assert_int_equal(services_parse(body, len, 0, &l), 0);
	assert_int_equal(l->n, 6);
	service_list_free(l);
	free(body);
	control("services-403");
	assert_int_equal(kubelet_list_services(k, &body, &len), -EACCES);
	assert_non_null(strstr(kubelet_last_error(k), "services list"));
	/* The pod list still answers. */
	assert_int_equal(kubelet_list_pods(k, &body, &len), 0);
	free(body);
	control("ok");
	kubelet_client_free(k);

	char buf[128];
	assert_string_equal(kubelet_apiserver_url(NULL, "198.18.162.1", "443",
						  buf, sizeof(buf)),
			    "https://198.18.162.1:443");
	assert_string_equal(kubelet_apiserver_url(NULL, "2001:db8:62::1", NULL,
						  buf, sizeof(buf)),
			    "https://[2001:db8:62::1]:443");
	assert_string_equal(kubelet_apiserver_url("https://api:6443", "x", "1",
						  buf, sizeof(buf)),
			    "https://api:6443");
	assert_null(kubelet_apiserver_url(NULL, "", "443", buf, sizeof(buf)));
}

static void test_tls_failures(void **state)
{
	(void)state;
	struct kubelet_options o = opts();
	size_t n;
	control("ok");
	/* The system store does not know our CA. */
	o.ca_file = "/nonexistent/ca.crt";
	assert_int_equal(list(&o, &n), -EIO);
	o.ca_file = NULL;
	assert_int_equal(list(&o, &n), -EIO);
	/* ...unless verification is off. */
	o.insecure = true;
	assert_int_equal(list(&o, &n), 0);
	assert_int_equal(n, 7);
}

static void test_auth(void **state)
{
	(void)state;
	struct kubelet_options o = opts();
	size_t n;
	control("ok");
	o.token_file = path_bad_token;
	assert_int_equal(list(&o, &n), -EACCES);
	o.token_file = "/nonexistent/token"; /* anonymous */
	assert_int_equal(list(&o, &n), -EACCES);
	o.token_file = path_token;
	control("403");
	assert_int_equal(list(&o, &n), -EACCES);
	control("401");
	assert_int_equal(list(&o, &n), -EACCES);
	control("ok");
}

static void test_server_failures(void **state)
{
	(void)state;
	struct kubelet_options o = opts();
	size_t n;
	control("500");
	assert_int_equal(list(&o, &n), -EIO);
	control("garbage");
	assert_int_equal(list(&o, &n), 1);
	control("truncated");
	assert_int_equal(list(&o, &n), 1);
	control("close");
	assert_int_equal(list(&o, &n), -EIO);

	control("slow 3");
	o.timeout_ms = 300;
	int64_t t0 = now_monotonic_ms();
	assert_int_equal(list(&o, &n), -ETIMEDOUT);
	assert_true(now_monotonic_ms() - t0 < 2000);
	control("ok");

	o = opts();
	o.max_body = 1024;
	assert_int_equal(list(&o, &n), -EFBIG);

	/* Nothing listens there (our own server's port after a bind race
	 * would be a surprise; port 1 needs root to listen on). */
	o = opts();
	o.url = "https://127.0.0.1:1";
	assert_int_equal(list(&o, &n), -EIO);
	o.url = NULL;
	struct kubelet_client *k = NULL;
	assert_int_equal(kubelet_client_new(&o, &k), -EINVAL);
}

static void test_default_url(void **state)
{
	(void)state;
	char buf[64];
	assert_string_equal(kubelet_default_url("https://x:1", "10.0.0.1",
						buf, sizeof(buf)),
			    "https://x:1");
	assert_string_equal(kubelet_default_url(NULL, "10.0.0.1", buf,
						sizeof(buf)),
			    "https://10.0.0.1:10250");
	assert_string_equal(kubelet_default_url("", "fd00::5", buf,
						sizeof(buf)),
			    "https://[fd00::5]:10250");
	assert_null(kubelet_default_url(NULL, "", buf, sizeof(buf)));
	assert_null(kubelet_default_url(NULL, NULL, buf, sizeof(buf)));
}

static struct pod_watch *watch_new(int64_t stale_ms)
{
	struct pod_watch_options o = {
		.kubelet = opts(),
		.refresh_ms = 60000,
		.min_refresh_ms = 100,
		.stale_ms = stale_ms,
	};
	o.kubelet.timeout_ms = 500;
	struct pod_watch *w = NULL;
	assert_int_equal(pod_watch_new(&o, &w), 0);
	return w;
}

static void test_watch_states(void **state)
{
	(void)state;
	struct pod_watch_status st;
	struct pod_match m;
	struct pod_watch *w = watch_new(60000);

	pod_watch_get_status(w, &st);
	assert_int_equal(st.state, POD_WATCH_UNKNOWN);
	assert_int_equal(pod_watch_find(w, C1, NULL, &m), -ENOENT);

	control("ok");
	assert_int_equal(pod_watch_refresh(w), 7);
	pod_watch_get_status(w, &st);
	assert_int_equal(st.state, POD_WATCH_OK);
	assert_int_equal(st.changes, 1);
	assert_int_equal(pod_watch_find(w, C1, NULL, &m), 0);
	assert_string_equal(m.namespace, "shop");
	assert_string_equal(m.name, "cart-5d8f7c9b6-abcde");
	assert_string_equal(m.container_name, "cart");
	assert_string_equal(m.workload_kind, "Deployment");
	assert_string_equal(m.node, "node-a");
	/* By pod uid (e.g. a process in the pod's slice, no container). */
	assert_int_equal(pod_watch_find(w, "", "a1b2c3d4-e5f6-4789-abcd-"
						"ef0123456789", &m),
			 0);
	assert_string_equal(m.name, "db-0");
	assert_string_equal(m.container_name, "");

	/* A second success is no state change. */
	assert_int_equal(pod_watch_refresh(w), 7);
	pod_watch_get_status(w, &st);
	assert_int_equal(st.changes, 1);

	/* Garbage: failing, but the last good list still answers. */
	control("garbage");
	assert_int_equal(pod_watch_refresh(w), -EINVAL);
	pod_watch_get_status(w, &st);
	assert_int_equal(st.state, POD_WATCH_FAILING);
	assert_int_equal(st.err, -EINVAL);
	assert_int_equal(st.changes, 2);
	assert_non_null(strstr(st.message, "not a PodList"));
	assert_int_equal(pod_watch_find(w, C1, NULL, &m), 0);

	control("403");
	assert_int_equal(pod_watch_refresh(w), -EACCES);
	assert_int_equal(pod_watch_refresh(w), -EACCES);
	pod_watch_get_status(w, &st);
	assert_int_equal(st.changes, 3);

	control("slow 2");
	assert_int_equal(pod_watch_refresh(w), -ETIMEDOUT);
	pod_watch_get_status(w, &st);
	assert_int_equal(st.changes, 4);

	control("ok");
	assert_int_equal(pod_watch_refresh(w), 7);
	pod_watch_get_status(w, &st);
	assert_int_equal(st.state, POD_WATCH_OK);
	assert_int_equal(st.changes, 5);
	pod_watch_free(w);

	/* Once stale, a failing kubelet means no labels at all. */
	w = watch_new(1);
	assert_int_equal(pod_watch_refresh(w), 7);
	struct timespec ts = { 0, 5 * 1000000 };
	nanosleep(&ts, NULL);
	control("500");
	assert_int_equal(pod_watch_refresh(w), -EIO);
	assert_int_equal(pod_watch_find(w, C1, NULL, &m), -ENOENT);
	pod_watch_get_status(w, &st);
	assert_int_equal(st.n_pods, 0);
	control("ok");
	assert_int_equal(pod_watch_refresh(w), 7);
	assert_int_equal(pod_watch_find(w, C1, NULL, &m), 0);
	pod_watch_free(w);
	pod_watch_free(NULL);
}

/* A new pod: the first miss on its container wakes the refresher. */
static void test_watch_thread(void **state)
{
	(void)state;
	control("ok");
	struct pod_watch *w = watch_new(60000);
	assert_int_equal(pod_watch_refresh(w), 7);
	assert_int_equal(pod_watch_start(w), 0);

	const char *newid =
		"feedfacefeedfacefeedfacefeedfacefeedfacefeedfacefeedfacefeedface";
	char doc[1024];
	snprintf(doc, sizeof(doc),
		 "{\"kind\":\"PodList\",\"items\":[{\"metadata\":{\"name\":"
		 "\"new-pod\",\"namespace\":\"shop\",\"uid\":\"u-1\"},\"status\":"
		 "{\"containerStatuses\":[{\"name\":\"web\",\"containerID\":"
		 "\"containerd://%s\"}]}}]}",
		 newid);
	put(path_pods, doc);

	struct pod_match m;
	int r = pod_watch_find(w, newid, NULL, &m);
	assert_int_equal(r, -ENOENT);
	for (int i = 0; i < 100 && r < 0; i++) {
		struct timespec ts = { 0, 50 * 1000000 };
		nanosleep(&ts, NULL);
		r = pod_watch_find(w, newid, NULL, &m);
	}
	assert_int_equal(r, 0);
	assert_string_equal(m.name, "new-pod");
	assert_string_equal(m.container_name, "web");

	/* The pod list is gone from the watch's view once refreshed. */
	struct pod_watch_status st;
	pod_watch_get_status(w, &st);
	assert_int_equal(st.n_pods, 1);
	pod_watch_free(w);

	size_t len;
	char *pods = fixture_read("kubelet/pods_node_a.json", &len);
	put(path_pods, pods);
	free(pods);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_default_url),
		cmocka_unit_test(test_verified_tls),
		cmocka_unit_test(test_list_services),
		cmocka_unit_test(test_tls_failures),
		cmocka_unit_test(test_auth),
		cmocka_unit_test(test_server_failures),
		cmocka_unit_test(test_watch_states),
		cmocka_unit_test(test_watch_thread),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
