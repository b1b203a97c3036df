{{/* SPDX-License-Identifier: MIT */}}
{{- define "shawk.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "shawk.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "shawk.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "shawk.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{- define "shawk.cmdbSecretName" -}}
{{- if .Values.cmdb.existingSecret -}}
{{ .Values.cmdb.existingSecret }}
{{- else -}}
{{ include "shawk.fullname" . }}-cmdb
{{- end -}}
{{- end -}}

{{- define "shawk.cmdbSecretKey" -}}
{{- if .Values.cmdb.existingSecret -}}
{{ .Values.cmdb.existingSecretKey }}
{{- else -}}
url
{{- end -}}
{{- end -}}
