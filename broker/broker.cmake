# The gregor-broker executable and its internal libraries (included from
# broker/CMakeLists.txt). Inside the broker: net -> kafka -> replication ->
# storage -> common.
add_library(gregor_broker_core STATIC
  server.c admin.c topics.c topic_config.c log_manager.c config_watch.c
  controller_watch.c
  net/worker.c net/conn.c net/listener.c net/limits.c
  kafka/dispatch.c kafka/api_versions.c kafka/metadata.c kafka/produce.c
  kafka/fetch.c kafka/list_offsets.c kafka/admin_topics.c kafka/find_coordinator.c
  kafka/delete_records.c kafka/configs.c kafka/delayed.c kafka/control.c
  kafka/offset_for_leader_epoch.c kafka/elect_leaders.c kafka/create_partitions.c
  kafka/admin_wait.c
  replication/partition.c replication/fetcher.c replication/replica_manager.c
  http/http.c metadata_cache.c)
target_link_libraries(gregor_broker_core PUBLIC
  gregor_broker_config gregor_storage gregor_controller gregor_common
  PkgConfig::LIBEVENT Threads::Threads)
# evhttp lives in libevent_extra (already part of PkgConfig::LIBEVENT).

add_executable(gregor-broker main.c)
target_link_libraries(gregor-broker PRIVATE gregor_broker_core)
