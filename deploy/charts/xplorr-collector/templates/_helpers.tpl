{{- define "xplorr-collector.fullname" -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "xplorr-collector.ingestUrl" -}}
{{- if .Values.ingestUrl -}}
{{- .Values.ingestUrl -}}
{{- else -}}
{{- required "clusterId is required" .Values.clusterId | printf "%s/%s" (trimSuffix "/" .Values.ingestBaseUrl) -}}
{{- end -}}
{{- end -}}

{{- define "xplorr-collector.secretName" -}}
{{- default (include "xplorr-collector.fullname" .) .Values.existingSecret -}}
{{- end -}}
