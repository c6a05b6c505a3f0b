{{/*
Names and labels.
*/}}
{{- define "kafka-gateway.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "kafka-gateway.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "kafka-gateway.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/name: {{ include "kafka-gateway.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/*
The gateway.toml section, environment-variable infix and listener of each role.
*/}}
{{- define "kafka-gateway.sections" -}}
bridge: {section: bridge, env: BRIDGE, http: true}
connect: {section: connect, env: CONNECT, http: true}
schemaRegistry: {section: schema_registry, env: SCHEMA_REGISTRY, http: true}
console: {section: console, env: CONSOLE, http: true}
mirror: {section: mirror, env: MIRROR, http: false}
metrics: {section: metrics, env: METRICS, http: true}
{{- end -}}

{{/*
The workloads to render: a list of {name, roles, replicas, resources, stateful}. In combined
mode one workload carries every enabled role; in perRole mode each enabled role is one. A
workload that runs the mirror is a StatefulSet: its pod name is the mirror's instance_id, the
static group member id, which must survive a restart for the member to take its partitions
back at once.
*/}}
{{- define "kafka-gateway.workloads" -}}
{{- $root := . -}}
{{- $fullname := include "kafka-gateway.fullname" . -}}
{{- $order := list "bridge" "connect" "schemaRegistry" "console" "mirror" "metrics" -}}
{{- $workloads := list -}}
{{- if eq .Values.mode "combined" -}}
{{- $roles := list -}}
{{- range $order -}}
{{- if (index $root.Values.roles .).enabled -}}
{{- $roles = append $roles . -}}
{{- end -}}
{{- end -}}
{{- $workloads = append $workloads (dict "name" $fullname "component" "gateway" "roles" $roles "replicas" .Values.combined.replicas "resources" .Values.combined.resources "stateful" (has "mirror" $roles)) -}}
{{- else -}}
{{- range $order -}}
{{- $role := index $root.Values.roles . -}}
{{- if $role.enabled -}}
{{- $component := . | kebabcase -}}
{{- $workloads = append $workloads (dict "name" (printf "%s-%s" $fullname $component | trunc 63 | trimSuffix "-") "component" $component "roles" (list .) "replicas" $role.replicas "resources" $role.resources "stateful" (eq . "mirror")) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- toYaml (dict "workloads" $workloads) -}}
{{- end -}}

{{- define "kafka-gateway.selectorLabels" -}}
app.kubernetes.io/name: {{ include "kafka-gateway.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .workload.component }}
{{- end -}}

{{/*
Environment of one workload's container: which services run, where they listen, and the
addresses other pods reach them at. Every key is a gateway.toml key
(KAFKA_GATEWAY_<SECTION>__<KEY>), so `kafka-gateway check-config` validates the result.
*/}}
{{- define "kafka-gateway.env" -}}
{{- $root := .root -}}
{{- $workload := .workload -}}
{{- $sections := include "kafka-gateway.sections" $root | fromYaml -}}
{{- $fullname := include "kafka-gateway.fullname" $root -}}
- name: POD_NAME
  valueFrom: {fieldRef: {fieldPath: metadata.name}}
- name: POD_IP
  valueFrom: {fieldRef: {fieldPath: status.podIP}}
- name: KAFKA_GATEWAY_KAFKA__BOOTSTRAP_SERVERS
  value: {{ $root.Values.kafka.bootstrapServers | quote }}
{{- range $name := list "bridge" "connect" "schemaRegistry" "console" "mirror" }}
{{- $section := index $sections $name }}
{{- /* Off unless enabled (the bridge is on by default), so a role the release does not
  use needs no variable, and a gateway without that service still accepts the config. */}}
{{- if or (index $root.Values.roles $name).enabled (eq $name "bridge") }}
- name: KAFKA_GATEWAY_{{ $section.env }}__ENABLED
  value: {{ has $name $workload.roles | quote }}
{{- end }}
{{- if and (has $name $workload.roles) $section.http }}
- name: KAFKA_GATEWAY_{{ $section.env }}__HTTP__LISTEN
  value: {{ printf "0.0.0.0:%v" (index $root.Values.roles $name).port | quote }}
{{- end }}
{{- end }}
{{- /* Every pod serves /metrics, /healthz and /readyz; cluster-wide series only once. */}}
- name: KAFKA_GATEWAY_METRICS__ENABLED
  value: "true"
- name: KAFKA_GATEWAY_METRICS__HTTP__LISTEN
  value: {{ printf "0.0.0.0:%v" $root.Values.roles.metrics.port | quote }}
- name: KAFKA_GATEWAY_METRICS__CLUSTER_METRICS
  value: {{ and $root.Values.roles.metrics.enabled (has "metrics" $workload.roles) | quote }}
{{- if has "bridge" $workload.roles }}
{{- $port := $root.Values.roles.bridge.port }}
- name: KAFKA_GATEWAY_BRIDGE__ADVERTISED_URL
  value: {{ default (printf "http://%s.%s.svc:%v" $workload.name $root.Release.Namespace $port) $root.Values.roles.bridge.advertisedUrl | quote }}
{{- if gt (int $workload.replicas) 1 }}
- name: KAFKA_GATEWAY_BRIDGE__CLUSTER__ENABLED
  value: "true"
- name: KAFKA_GATEWAY_BRIDGE__CLUSTER__NODE_URL
  value: {{ printf "http://$(POD_IP):%v" $port | quote }}
{{- end }}
{{- end }}
{{- if has "connect" $workload.roles }}
- name: KAFKA_GATEWAY_CONNECT__ADVERTISED_ADDRESS
  value: {{ printf "$(POD_IP):%v" $root.Values.roles.connect.port | quote }}
{{- end }}
{{- if has "schemaRegistry" $workload.roles }}
- name: KAFKA_GATEWAY_SCHEMA_REGISTRY__ADVERTISED_URL
  value: {{ printf "http://$(POD_IP):%v" $root.Values.roles.schemaRegistry.port | quote }}
{{- end }}
{{- if has "mirror" $workload.roles }}
- name: KAFKA_GATEWAY_MIRROR__PROPERTIES_FILE
  value: /etc/kafka-gateway/mm2.properties
- name: KAFKA_GATEWAY_MIRROR__INSTANCE_ID
  value: "$(POD_NAME)"
{{- end }}
{{- range $key, $value := $root.Values.extraEnv }}
- name: {{ $key }}
  value: {{ $value | quote }}
{{- end }}
{{- end -}}

{{/*
Port name of a role (at most 15 characters, as Kubernetes requires).
*/}}
{{- define "kafka-gateway.portName" -}}
{{- $names := dict "bridge" "http-bridge" "connect" "http-connect" "schemaRegistry" "http-registry" "console" "http-console" "metrics" "metrics" -}}
{{- index $names . -}}
{{- end -}}
