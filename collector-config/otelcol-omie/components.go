package main

import (
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/connector"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/extension"
	"go.opentelemetry.io/collector/otelcol"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/receiver"
	otelconftelemetry "go.opentelemetry.io/collector/service/telemetry/otelconftelemetry"

	// connectors
	spanmetricsconnector "github.com/open-telemetry/opentelemetry-collector-contrib/connector/spanmetricsconnector"

	// exporters
	fileexporter "github.com/open-telemetry/opentelemetry-collector-contrib/exporter/fileexporter"
	loadbalancingexporter "github.com/open-telemetry/opentelemetry-collector-contrib/exporter/loadbalancingexporter"
	prometheusremotewriteexporter "github.com/open-telemetry/opentelemetry-collector-contrib/exporter/prometheusremotewriteexporter"
	debugexporter "go.opentelemetry.io/collector/exporter/debugexporter"
	otlpexporter "go.opentelemetry.io/collector/exporter/otlpexporter"
	otlphttpexporter "go.opentelemetry.io/collector/exporter/otlphttpexporter"

	// extensions
	healthcheckextension "github.com/open-telemetry/opentelemetry-collector-contrib/extension/healthcheckextension"
	pprofextension "github.com/open-telemetry/opentelemetry-collector-contrib/extension/pprofextension"
	filestorage "github.com/open-telemetry/opentelemetry-collector-contrib/extension/storage/filestorage"
	zpagesextension "go.opentelemetry.io/collector/extension/zpagesextension"

	// processors
	attributesprocessor "github.com/open-telemetry/opentelemetry-collector-contrib/processor/attributesprocessor"
	filterprocessor "github.com/open-telemetry/opentelemetry-collector-contrib/processor/filterprocessor"
	redactionprocessor "github.com/open-telemetry/opentelemetry-collector-contrib/processor/redactionprocessor"
	resourceprocessor "github.com/open-telemetry/opentelemetry-collector-contrib/processor/resourceprocessor"
	tailsamplingprocessor "github.com/open-telemetry/opentelemetry-collector-contrib/processor/tailsamplingprocessor"
	transformprocessor "github.com/open-telemetry/opentelemetry-collector-contrib/processor/transformprocessor"
	batchprocessor "go.opentelemetry.io/collector/processor/batchprocessor"
	memorylimiterprocessor "go.opentelemetry.io/collector/processor/memorylimiterprocessor"

	// receivers
	otlpreceiver "go.opentelemetry.io/collector/receiver/otlpreceiver"
)

const (
	coreRelease    = " v0.161.0"
	contribRelease = " v0.161.0"
	contrib        = "github.com/open-telemetry/opentelemetry-collector-contrib/"
	core           = "go.opentelemetry.io/collector/"
)

type aliasProvider interface{ DeprecatedAlias() component.Type }

// makeModulesMap adds a component's deprecated alias (if any) to the module map, as the builder does.
func makeModulesMap[T component.Factory](factories map[component.Type]T, modules map[component.Type]string) map[component.Type]string {
	for compType, factory := range factories {
		if ap, ok := any(factory).(aliasProvider); ok {
			alias := ap.DeprecatedAlias()
			if alias.String() != "" {
				modules[alias] = modules[compType]
			}
		}
	}
	return modules
}

func components() (otelcol.Factories, error) {
	var err error
	factories := otelcol.Factories{
		Telemetry: otelconftelemetry.NewFactory(),
	}

	factories.Extensions, err = otelcol.MakeFactoryMap[extension.Factory](
		healthcheckextension.NewFactory(),
		pprofextension.NewFactory(),
		filestorage.NewFactory(),
		zpagesextension.NewFactory(),
	)
	if err != nil {
		return otelcol.Factories{}, err
	}
	factories.ExtensionModules = makeModulesMap(factories.Extensions, map[component.Type]string{
		healthcheckextension.NewFactory().Type(): contrib + "extension/healthcheckextension" + contribRelease,
		pprofextension.NewFactory().Type():       contrib + "extension/pprofextension" + contribRelease,
		filestorage.NewFactory().Type():          contrib + "extension/storage/filestorage" + contribRelease,
		zpagesextension.NewFactory().Type():      core + "extension/zpagesextension" + coreRelease,
	})

	factories.Receivers, err = otelcol.MakeFactoryMap[receiver.Factory](
		otlpreceiver.NewFactory(),
	)
	if err != nil {
		return otelcol.Factories{}, err
	}
	factories.ReceiverModules = makeModulesMap(factories.Receivers, map[component.Type]string{
		otlpreceiver.NewFactory().Type(): core + "receiver/otlpreceiver" + coreRelease,
	})

	factories.Exporters, err = otelcol.MakeFactoryMap[exporter.Factory](
		debugexporter.NewFactory(),
		fileexporter.NewFactory(),
		loadbalancingexporter.NewFactory(),
		otlpexporter.NewFactory(),
		otlphttpexporter.NewFactory(),
		prometheusremotewriteexporter.NewFactory(),
	)
	if err != nil {
		return otelcol.Factories{}, err
	}
	factories.ExporterModules = makeModulesMap(factories.Exporters, map[component.Type]string{
		debugexporter.NewFactory().Type():                 core + "exporter/debugexporter" + coreRelease,
		fileexporter.NewFactory().Type():                  contrib + "exporter/fileexporter" + contribRelease,
		loadbalancingexporter.NewFactory().Type():         contrib + "exporter/loadbalancingexporter" + contribRelease,
		otlpexporter.NewFactory().Type():                  core + "exporter/otlpexporter" + coreRelease,
		otlphttpexporter.NewFactory().Type():              core + "exporter/otlphttpexporter" + coreRelease,
		prometheusremotewriteexporter.NewFactory().Type(): contrib + "exporter/prometheusremotewriteexporter" + contribRelease,
	})

	factories.Processors, err = otelcol.MakeFactoryMap[processor.Factory](
		attributesprocessor.NewFactory(),
		batchprocessor.NewFactory(),
		filterprocessor.NewFactory(),
		memorylimiterprocessor.NewFactory(),
		redactionprocessor.NewFactory(),
		resourceprocessor.NewFactory(),
		tailsamplingprocessor.NewFactory(),
		transformprocessor.NewFactory(),
	)
	if err != nil {
		return otelcol.Factories{}, err
	}
	factories.ProcessorModules = makeModulesMap(factories.Processors, map[component.Type]string{
		attributesprocessor.NewFactory().Type():    contrib + "processor/attributesprocessor" + contribRelease,
		batchprocessor.NewFactory().Type():         core + "processor/batchprocessor" + coreRelease,
		filterprocessor.NewFactory().Type():        contrib + "processor/filterprocessor" + contribRelease,
		memorylimiterprocessor.NewFactory().Type(): core + "processor/memorylimiterprocessor" + coreRelease,
		redactionprocessor.NewFactory().Type():     contrib + "processor/redactionprocessor" + contribRelease,
		resourceprocessor.NewFactory().Type():      contrib + "processor/resourceprocessor" + contribRelease,
		tailsamplingprocessor.NewFactory().Type():  contrib + "processor/tailsamplingprocessor" + contribRelease,
		transformprocessor.NewFactory().Type():     contrib + "processor/transformprocessor" + contribRelease,
	})

	factories.Connectors, err = otelcol.MakeFactoryMap[connector.Factory](
		spanmetricsconnector.NewFactory(),
	)
	if err != nil {
		return otelcol.Factories{}, err
	}
	factories.ConnectorModules = makeModulesMap(factories.Connectors, map[component.Type]string{
		spanmetricsconnector.NewFactory().Type(): contrib + "connector/spanmetricsconnector" + contribRelease,
	})

	return factories, nil
}
